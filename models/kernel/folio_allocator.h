// A deterministic buddy allocator of physical pages: naturally aligned blocks of 2^order base
// pages, the lowest free block first, buddies merged on free. It also remembers which
// allocated block (folio) each page belongs to, which the contpte fold check needs.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <vector>

namespace mmusim::kernel {

struct Folio {
    std::uint64_t head_pfn = 0;
    unsigned order = 0;
    std::uint64_t nr_pages() const { return std::uint64_t{1} << order; }
};

class FolioAllocator {
public:
    // Manages `pages` base pages from PFN 0; blocks are at most 2^max_order pages.
    FolioAllocator(std::uint64_t pages, unsigned max_order);

    std::optional<Folio> alloc(unsigned order);
    void free(const Folio& folio);
    // split_folio's end result: the allocated block becomes 2^order order-0 blocks.
    void split(const Folio& folio);
    // The allocated block containing `pfn`, if any.
    std::optional<Folio> folio_of(std::uint64_t pfn) const;

private:
    unsigned m_max_order;
    std::vector<std::set<std::uint64_t>> m_free;  // per order: head PFNs of free blocks
    std::map<std::uint64_t, unsigned> m_allocated;  // head PFN -> order
};

}  // namespace mmusim::kernel
