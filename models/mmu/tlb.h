// One TLB level: set-associative, multi-size, LRU, tagged by (ASID or global, VA region,
// size). Lookup, fill and invalidation follow spec/mmu.md §2 exactly.
//
// Hot path: lookup() probes an open-addressing hash index once per size that the level
// currently holds (usually one or two), so a fully associative level does not scan its ways.
// Nothing on that path allocates.
#pragma once

#include <cstdint>
#include <vector>

#include "models/mmu/tlb_config.h"

namespace mmusim::mmu {

struct TlbEntry {
    std::uint64_t key = kInvalid;  // packed (vpn, size shift, asid/global); kInvalid = empty
    std::uint64_t pa = 0;          // physical address of the region's first byte
    std::uint64_t desc = 0;        // leaf descriptor attributes, for permission checks
    std::uint64_t desc_pa = 0;     // where the leaf descriptor lives (hardware A/D updates)
    std::uint64_t lru = 0;         // larger = more recently used
    std::uint8_t shift = 0;        // log2 of the entry size
    std::uint8_t level = 3;        // translation table level of the leaf descriptor
    std::uint8_t src_shift = 0;    // log2 of the translation it was filled from (>= shift)

    static constexpr std::uint64_t kInvalid = ~std::uint64_t{0};
    bool valid() const { return key != kInvalid; }
    std::uint64_t size() const { return std::uint64_t{1} << shift; }
    std::uint64_t region() const { return (key >> kVpnShift) << shift; }
    // The translation this entry is a copy of: larger than the entry when the level had no
    // size as large as the walk's (a fractured entry).
    std::uint64_t source_region() const { return region() & ~((std::uint64_t{1} << src_shift) - 1); }
    std::uint64_t source_size() const { return std::uint64_t{1} << src_shift; }
    bool global() const { return (key & kGlobalBit) != 0; }
    std::uint16_t asid() const { return static_cast<std::uint16_t>(key & 0xffff); }

    static constexpr unsigned kVpnShift = 23;
    static constexpr std::uint64_t kGlobalBit = std::uint64_t{1} << 16;
};

struct TlbLookup {
    TlbEntry* entry = nullptr;  // the entry used, nullptr on a miss
    unsigned matches = 0;       // entries covering the VA; > 1 is a TLB conflict (§2.4)
};

class Tlb {
public:
    explicit Tlb(const TlbConfig& config);

    const TlbConfig& config() const { return m_config; }

    // Finds the entry for `va`: the first size in the configured order with a hit wins and
    // becomes most recently used. When several entries match (a conflict), `prefer_smallest`
    // picks the smallest of them instead (BBML2_NOABORT behaviour).
    TlbLookup lookup(std::uint64_t va, std::uint16_t asid, bool prefer_smallest = false);

    // Inserts the translation of `va`, whose source (walk leaf or upper-level entry) maps a
    // naturally aligned region of `source_size` bytes at physical `source_pa` for region
    // base `source_va`. The size used is the largest configured size <= source_size; returns
    // false if the level holds no such size.
    bool fill(std::uint64_t va, std::uint16_t asid, bool global, std::uint64_t source_size,
              std::uint64_t source_va, std::uint64_t source_pa, std::uint64_t desc,
              std::uint64_t desc_pa, unsigned level);

    // Invalidations (§2.3). `asid_match` false: any ASID (VAA forms). An entry goes when the
    // VA (or range) falls in its region, or in the translation it was copied from: a TLBI
    // removes every cached copy of the translation that maps the address.
    void invalidate_va(std::uint64_t va, std::uint16_t asid, bool asid_match = true);
    void invalidate_range(std::uint64_t start, std::uint64_t end, std::uint16_t asid, bool asid_match = true);
    void invalidate_asid(std::uint16_t asid);
    void invalidate_all();

    std::uint32_t sets() const { return m_sets; }
    std::uint32_t valid_entries() const;
    // For tests and inspection: the entries of one set, way by way.
    const TlbEntry* set_entries(std::uint32_t set) const { return &m_entries[std::size_t{set} * m_config.ways]; }

private:
    static std::uint64_t make_key(std::uint64_t vpn, unsigned shift, std::uint16_t asid, bool global) {
        return (vpn << TlbEntry::kVpnShift) | (std::uint64_t{shift} << 17) |
               (global ? TlbEntry::kGlobalBit : std::uint64_t{asid});
    }
    std::uint64_t hash_slot(std::uint64_t key) const {
        return (key * 0x9E3779B97F4A7C15ull) >> m_hash_shift;
    }
    std::int32_t find(std::uint64_t key) const;
    void index_insert(std::uint64_t key, std::int32_t entry);
    void index_erase(std::uint64_t key);
    void evict(TlbEntry& e);
    void erase_key(std::uint64_t key);
    std::uint32_t set_of(std::uint64_t va, unsigned shift) const;

    TlbConfig m_config;
    std::uint32_t m_sets = 0;
    std::vector<std::uint8_t> m_shifts;      // configured sizes, as shifts, in lookup order
    std::vector<TlbEntry> m_entries;         // sets * ways, set-major
    std::vector<std::int32_t> m_index;       // hash slot -> entry index, -1 = empty
    unsigned m_hash_shift = 0;
    std::uint64_t m_clock = 0;
    std::uint32_t m_size_count[64] = {};     // valid entries per shift
    std::uint32_t m_global_count = 0;
    std::uint32_t m_fractured_count = 0;     // valid entries smaller than their source
};

}  // namespace mmusim::mmu
