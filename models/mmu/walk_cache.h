// The walk cache of one core: table descriptors of the upper levels that earlier walks read,
// so that a walk can start below the root (Arm cores call it the walk cache RAM, or keep such
// intermediate entries in the L2 TLB).
//
// - An entry is one valid table descriptor read at level L (a level listed in the config):
//   tagged by (ASID, L, the VA bits above level_shift(L), which select that table entry), it
//   holds the physical address of the next-level table. It covers the naturally aligned VA
//   range of level_size(L) (512G, 1G, 2M at levels 0, 1, 2 with 4K pages).
// - Invalid descriptors and block or page descriptors are never cached.
// - Set-associative: the set of an entry is (VA >> level_shift(L)) % sets; LRU within the
//   set. Lookup probes the listed levels from the deepest up; the deepest hit wins and becomes
//   most recently used.
// - Entries are always tagged by ASID (table descriptors have no nG bit).
// - Invalidation (spec/mmu.md §2.3 applied to table entries): by VA, entries of the ASID whose
//   range contains the VA; by range, entries of the ASID whose range overlaps it; by ASID; all.
//   Last-level TLBIs do not reach the walk cache (the Mmu decides which forms do).
// Nothing allocates after construction.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "models/arch/granule.h"

namespace mmusim::mmu {

struct WalkCacheConfig {
    std::uint32_t entries = 0;    // 0: no walk cache
    std::uint32_t ways = 0;       // must divide entries; ways == entries: fully associative
    std::uint8_t level_mask = 0;  // bit L set: table descriptors read at level L are cached (L = 0..2)
    std::uint32_t latency = 0;    // cycles per lookup (one per walk, hit or miss)

    bool enabled() const { return entries != 0 && level_mask != 0; }
    bool caches_level(unsigned level) const { return level < 3 && (level_mask >> level & 1u) != 0; }
};

struct WalkCacheHit {
    int level = -1;           // level of the cached table descriptor; -1 = miss
    std::uint64_t table = 0;  // physical address of the table at level + 1
    bool hit() const { return level >= 0; }
};

class WalkCache {
public:
    WalkCache(const WalkCacheConfig& config, arch::Granule granule);

    const WalkCacheConfig& config() const { return m_config; }
    bool enabled() const { return m_config.enabled(); }

    // The deepest cached table descriptor on the walk of `va`.
    WalkCacheHit lookup(std::uint64_t va, std::uint16_t asid);
    // Caches the table descriptor read at `level` on the walk of `va`, pointing at `table`
    // (ignored for a level not listed).
    void fill(std::uint64_t va, std::uint16_t asid, unsigned level, std::uint64_t table);

    // Each returns the number of entries removed.
    unsigned invalidate_va(std::uint64_t va, std::uint16_t asid);
    unsigned invalidate_range(std::uint64_t start, std::uint64_t end, std::uint16_t asid);
    unsigned invalidate_asid(std::uint16_t asid);
    unsigned invalidate_all();

    std::uint32_t sets() const { return m_sets; }
    std::uint32_t valid_entries() const;
    // For tests: whether a table descriptor of `level` for `va` is held (no LRU update).
    bool contains(std::uint64_t va, std::uint16_t asid, unsigned level) const;

    // One cached table descriptor, for inspection (the invariant checker).
    struct Entry {
        std::uint64_t base = 0;   // VA of the covered range's first byte
        std::uint64_t table = 0;  // next-level table PA
        std::uint64_t lru = 0;    // larger = more recently used
        std::uint16_t asid = 0;
        std::uint8_t level = 0;
        bool valid = false;
    };
    // Every slot, way by way (invalid ones included).
    const std::vector<Entry>& entries() const { return m_entries; }

private:
    std::uint64_t base_of(std::uint64_t va, unsigned level) const { return va & ~(m_geo.level_size(level) - 1); }
    std::size_t set_start(std::uint64_t va, unsigned level) const {
        return static_cast<std::size_t>((va >> m_geo.level_shift(level)) % m_sets) * m_config.ways;
    }
    // Index of the entry for (va, asid, level) in m_entries, or -1.
    std::int64_t find(std::uint64_t va, std::uint16_t asid, unsigned level) const;

    WalkCacheConfig m_config;
    const arch::Geometry& m_geo;
    std::uint32_t m_sets = 0;
    std::vector<Entry> m_entries;  // sets * ways, set-major
    std::uint64_t m_clock = 0;
};

}  // namespace mmusim::mmu
