#include "models/mmu/walk_cache.h"

#include <stdexcept>

namespace mmusim::mmu {

WalkCache::WalkCache(const WalkCacheConfig& config, arch::Granule granule)
    : m_config(config), m_geo(arch::geometry(granule)) {
    if (config.entries == 0) return;  // no walk cache
    if (config.ways == 0 || config.entries % config.ways != 0)
        throw std::invalid_argument("walk cache: ways must divide entries");
    m_sets = config.entries / config.ways;
    m_entries.resize(config.entries);
}

std::int64_t WalkCache::find(std::uint64_t va, std::uint16_t asid, unsigned level) const {
    if (m_sets == 0) return -1;
    const std::uint64_t base = base_of(va, level);
    const std::size_t first = set_start(va, level);
    for (std::size_t i = first; i < first + m_config.ways; ++i) {
        const Entry& e = m_entries[i];
        if (e.valid && e.level == level && e.asid == asid && e.base == base) return static_cast<std::int64_t>(i);
    }
    return -1;
}

WalkCacheHit WalkCache::lookup(std::uint64_t va, std::uint16_t asid) {
    WalkCacheHit hit;
    if (!enabled()) return hit;
    for (int level = 2; level >= 0; --level) {
        if (!m_config.caches_level(static_cast<unsigned>(level))) continue;
        const std::int64_t i = find(va, asid, static_cast<unsigned>(level));
        if (i < 0) continue;
        Entry& e = m_entries[static_cast<std::size_t>(i)];
        e.lru = ++m_clock;
        hit.level = level;
        hit.table = e.table;
        break;
    }
    return hit;
}

void WalkCache::fill(std::uint64_t va, std::uint16_t asid, unsigned level, std::uint64_t table) {
    if (!enabled() || !m_config.caches_level(level)) return;
    const std::int64_t found = find(va, asid, level);
    Entry* slot = found >= 0 ? &m_entries[static_cast<std::size_t>(found)] : nullptr;
    if (slot == nullptr) {
        // The first invalid way, else the least recently used one.
        Entry* set = &m_entries[set_start(va, level)];
        slot = &set[0];
        for (std::uint32_t w = 0; w < m_config.ways && slot->valid; ++w)
            if (!set[w].valid || set[w].lru < slot->lru) slot = &set[w];
        slot->valid = true;
        slot->base = base_of(va, level);
        slot->asid = asid;
        slot->level = static_cast<std::uint8_t>(level);
    }
    slot->table = table;
    slot->lru = ++m_clock;
}

unsigned WalkCache::invalidate_va(std::uint64_t va, std::uint16_t asid) { return invalidate_range(va, va + 1, asid); }

unsigned WalkCache::invalidate_range(std::uint64_t start, std::uint64_t end, std::uint16_t asid) {
    if (end <= start) return 0;
    unsigned removed = 0;
    for (Entry& e : m_entries) {
        if (!e.valid || e.asid != asid) continue;
        const std::uint64_t size = m_geo.level_size(e.level);
        if (e.base < end && e.base + size > start) {
            e.valid = false;
            ++removed;
        }
    }
    return removed;
}

unsigned WalkCache::invalidate_asid(std::uint16_t asid) {
    unsigned removed = 0;
    for (Entry& e : m_entries) {
        if (e.valid && e.asid == asid) {
            e.valid = false;
            ++removed;
        }
    }
    return removed;
}

unsigned WalkCache::invalidate_all() {
    unsigned removed = 0;
    for (Entry& e : m_entries) {
        removed += e.valid ? 1 : 0;
        e.valid = false;
    }
    return removed;
}

std::uint32_t WalkCache::valid_entries() const {
    std::uint32_t n = 0;
    for (const Entry& e : m_entries) n += e.valid ? 1 : 0;
    return n;
}

bool WalkCache::contains(std::uint64_t va, std::uint16_t asid, unsigned level) const {
    return find(va, asid, level) >= 0;
}

}  // namespace mmusim::mmu
