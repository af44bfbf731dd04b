#include "models/memory/line_cache.h"

#include <sys/mman.h>

#include <new>
#include <stdexcept>

namespace mmusim::memory {

LineCache::LineCache(const std::string& name, const LineCacheConfig& config, unsigned line_shift) : m_config(config) {
    const std::uint64_t line_bytes = std::uint64_t{1} << line_shift;
    if (config.ways == 0 || config.size < line_bytes * config.ways || config.size % (line_bytes * config.ways) != 0)
        throw std::invalid_argument("cache " + name + ": size is not a whole number of sets of ways * line bytes");
    m_sets = config.size / (line_bytes * config.ways);
    const std::size_t bytes = m_sets * config.ways * sizeof(std::uint64_t);
    void* tags = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (tags == MAP_FAILED) throw std::bad_alloc();
    m_tags = std::unique_ptr<std::uint64_t[], UnmapTags>(static_cast<std::uint64_t*>(tags), UnmapTags{bytes});
}

void LineCache::UnmapTags::operator()(std::uint64_t* p) const { munmap(p, bytes); }

std::uint32_t LineCache::find(const std::uint64_t* set, std::uint64_t line) const {
    const std::uint64_t tag = tag_of(line);
    std::uint32_t w = 0;
    while (w < m_config.ways && set[w] != tag && set[w] != kEmpty) ++w;
    return w < m_config.ways && set[w] == tag ? w : m_config.ways;
}

bool LineCache::lookup(std::uint64_t line) {
    std::uint64_t* set = set_of(line);
    const std::uint32_t w = find(set, line);
    if (w == m_config.ways) return false;
    // Most recently used: to the front, the more recent ones move back by one.
    for (std::uint32_t i = w; i > 0; --i) set[i] = set[i - 1];
    set[0] = tag_of(line);
    return true;
}

void LineCache::fill(std::uint64_t line) {
    if (lookup(line)) return;
    // Everything moves back by one; the last way (empty, or the least recently used line)
    // drops out.
    std::uint64_t* set = set_of(line);
    for (std::uint32_t i = m_config.ways - 1; i > 0; --i) set[i] = set[i - 1];
    set[0] = tag_of(line);
}

bool LineCache::invalidate(std::uint64_t line) {
    std::uint64_t* set = set_of(line);
    const std::uint32_t w = find(set, line);
    if (w == m_config.ways) return false;
    // Close the gap so that the empty ways stay at the end.
    for (std::uint32_t i = w; i + 1 < m_config.ways; ++i) set[i] = set[i + 1];
    set[m_config.ways - 1] = kEmpty;
    return true;
}

bool LineCache::contains(std::uint64_t line) const { return find(set_of(line), line) != m_config.ways; }

std::uint64_t LineCache::valid_lines() const {
    std::uint64_t n = 0;
    for (std::uint64_t i = 0; i < m_sets * m_config.ways; ++i) n += m_tags[i] != kEmpty ? 1 : 0;
    return n;
}

}  // namespace mmusim::memory
