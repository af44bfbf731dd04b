// arm64 translation granules and the geometry that follows from each (spec/kernel.md §1).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace mmusim::arch {

enum class Granule : std::uint8_t { K4, K16, K64 };

// Everything the MMU and the kernel derive from the granule, for a 48-bit VA.
struct Geometry {
    Granule granule;
    unsigned page_shift;      // log2 of the page size
    unsigned bits_per_level;  // page_shift - 3: index bits resolved by one table
    unsigned start_level;     // first level walked for a 48-bit VA (0 for 4K/16K, 1 for 64K)
    unsigned cont_pte_shift;  // log2(CONT_PTES)
    unsigned cont_pmd_shift;  // log2(CONT_PMDS)
    unsigned exec_folio_order;

    std::uint64_t page_size() const { return std::uint64_t{1} << page_shift; }
    std::uint64_t ptrs_per_table() const { return std::uint64_t{1} << bits_per_level; }
    unsigned cont_ptes() const { return 1u << cont_pte_shift; }
    std::uint64_t cont_pte_size() const { return page_size() << cont_pte_shift; }
    std::uint64_t cont_pmd_size() const { return pmd_size() << cont_pmd_shift; }
    // log2 of the VA span mapped by one entry at `level` (3 = page).
    unsigned level_shift(unsigned level) const { return page_shift + (3 - level) * bits_per_level; }
    std::uint64_t level_size(unsigned level) const { return std::uint64_t{1} << level_shift(level); }
    std::uint64_t pmd_size() const { return level_size(2); }
    unsigned pmd_order() const { return bits_per_level; }
    // pmd_addr_end(): where the PMD range holding `addr` ends, or `end` if that comes first
    // (the walk step of every per-PMD loop).
    std::uint64_t pmd_addr_end(std::uint64_t addr, std::uint64_t end) const {
        const std::uint64_t boundary = (addr + pmd_size()) & ~(pmd_size() - 1);
        return boundary - 1 < end - 1 ? boundary : end;
    }
    // Index of `va` in the table of `level`. The start level table may be smaller than a page.
    std::uint64_t index(std::uint64_t va, unsigned level) const {
        return (va >> level_shift(level)) & (ptrs_per_table() - 1);
    }
    // Levels that may hold a block descriptor (besides level 3 pages).
    bool block_allowed(unsigned level) const;
    // Entries in the start-level table for a 48-bit VA.
    std::uint64_t start_table_entries() const;
};

inline constexpr unsigned kVaBits = 48;
inline constexpr std::uint64_t kUserVaEnd = std::uint64_t{1} << kVaBits;

const Geometry& geometry(Granule g);
// "4K", "16K", "64K"; returns false for anything else.
bool parse_granule(std::string_view text, Granule& out);
std::string granule_name(Granule g);

}  // namespace mmusim::arch
