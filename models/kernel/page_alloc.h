// Folio allocation and freeing for user memory: the buddy allocator plus the costs of the
// cost table, the folio counters, the rmap bookkeeping and the DEBUG_PAGEALLOC linear-map
// hooks.
#pragma once

#include <cstdint>
#include <optional>

#include "models/kernel/kernel_context.h"
#include "models/kernel/kernel_mappings.h"

namespace mmusim::kernel {

class PageAlloc {
public:
    PageAlloc(KernelContext& k, KernelMappings& kmap) : m_k(k), m_kmap(kmap) {}

    // A folio of 2^order pages (zeroed when asked), or nullopt when no block is free.
    std::optional<Folio> try_alloc(unsigned order, bool zero, bool anon);
    // A large folio for a fault that can fall back (alloc_anon_folio, THP faults): with
    // kernel.fragmentation f, an order-k request first fails with probability 1 - (1 - f)^k
    // (a seeded draw, counted in alloc_fallbacks_by_size); otherwise as try_alloc.
    std::optional<Folio> try_alloc_fallible(unsigned order, bool zero, bool anon);
    // As try_alloc, but running out of memory ends the run with a clear error.
    Folio alloc(unsigned order, bool zero, bool anon);
    // Frees a folio nobody maps any more.
    void free(const Folio& folio);
    // Drops `nr` mappings of `mm` from the folio of `pfn`; frees an anonymous folio that
    // no longer has any mapping (folio_remove_rmap_ptes then folio_put, for paths that free
    // at once; a zap frees through its mmu_gather instead).
    void unmap(std::uint64_t pfn, unsigned mm, std::uint64_t nr);
    // folio_remove_rmap_ptes: drops `nr` mappings of `mm` from the folio of `pfn`.
    void folio_remove_rmap_ptes(std::uint64_t pfn, unsigned mm, std::uint64_t nr);
    // free_pages_and_swap_cache for one entry of an mmu_gather batch: the gather's reference
    // to the folio of `pfn` goes, and an anonymous folio that nothing maps and the page cache
    // does not hold is freed (a folio already freed by an earlier entry is left alone).
    void free_pages_and_swap_cache(std::uint64_t pfn);
    // __get_free_page(GFP_NOWAIT) of a kernel page (an mmu_gather batch page): its PFN, or
    // nullopt when no page is free. Costs one buddy allocation; mapped in the linear map
    // under DEBUG_PAGEALLOC, like every page allocation.
    std::optional<std::uint64_t> get_free_page();
    // free_page of a page from get_free_page.
    void free_page(std::uint64_t pfn);

private:
    KernelContext& m_k;
    KernelMappings& m_kmap;
    std::uint64_t m_draws = 0;  // fragmentation draws so far
};

}  // namespace mmusim::kernel
