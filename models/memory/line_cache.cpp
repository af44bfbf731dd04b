#include "models/memory/line_cache.h"

#include <stdexcept>

namespace mmusim::memory {

LineCache::LineCache(const std::string& name, const LineCacheConfig& config, unsigned line_shift) : m_config(config) {
    const std::uint64_t line_bytes = std::uint64_t{1} << line_shift;
    if (config.ways == 0 || config.size < line_bytes * config.ways || config.size % (line_bytes * config.ways) != 0)
        throw std::invalid_argument("cache " + name + ": size is not a whole number of sets of ways * line bytes");
    m_sets = config.size / (line_bytes * config.ways);
    m_ways.resize(m_sets * config.ways);
}

bool LineCache::lookup(std::uint64_t line) {
    Way* set = set_of(line);
    for (std::uint32_t w = 0; w < m_config.ways; ++w) {
        if (set[w].line == line) {
            set[w].lru = ++m_clock;
            return true;
        }
    }
    return false;
}

void LineCache::fill(std::uint64_t line) {
    if (lookup(line)) return;
    // The first empty way, else the least recently used one (no ties: every use takes a new
    // clock value).
    Way* set = set_of(line);
    Way* victim = &set[0];
    for (std::uint32_t w = 0; w < m_config.ways && victim->line != kEmpty; ++w)
        if (set[w].line == kEmpty || set[w].lru < victim->lru) victim = &set[w];
    victim->line = line;
    victim->lru = ++m_clock;
}

bool LineCache::invalidate(std::uint64_t line) {
    Way* set = set_of(line);
    for (std::uint32_t w = 0; w < m_config.ways; ++w) {
        if (set[w].line == line) {
            set[w].line = kEmpty;
            set[w].lru = 0;
            return true;
        }
    }
    return false;
}

bool LineCache::contains(std::uint64_t line) const {
    const Way* set = set_of(line);
    for (std::uint32_t w = 0; w < m_config.ways; ++w)
        if (set[w].line == line) return true;
    return false;
}

std::uint64_t LineCache::valid_lines() const {
    std::uint64_t n = 0;
    for (const Way& w : m_ways) n += w.line != kEmpty ? 1 : 0;
    return n;
}

}  // namespace mmusim::memory
