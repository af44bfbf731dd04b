// Swap entries in page tables (mm/swapfile.c, mm/internal.h): freeing their slot references
// when entries go (zap, MADV_FREE) and finding runs of them (swap_pte_batch).
#include "models/kernel/mm_ops.h"
#include "models/kernel/pte.h"

namespace mmusim::kernel {

unsigned MmOps::swap_pte_batch(std::uint64_t ptep, unsigned max_nr, Desc pte) {
    // pte_next_swp_offset keeps every flag (exclusive, uffd-wp): a run has identical flags.
    Desc expected = pte_move_swp_offset(pte, 1);
    unsigned nr = 1;
    while (nr < max_nr) {
        const Desc cur = m_k.pgtable.ptep_get(ptep + 8 * std::uint64_t{nr});
        if (cur != expected) break;
        expected = pte_move_swp_offset(expected, 1);
        ++nr;
    }
    return nr;
}

void MmOps::free_swap_and_cache_nr(Desc entry, unsigned nr) {
    // A slot that loses its last reference while a folio holds it in the swap cache: the
    // folio leaves the cache (__try_to_reclaim_swap / folio_free_swap), and is freed when
    // nothing maps it either. Linux may leave a still-mapped folio in the cache until its
    // next write fault or reclaim; neither changes a page table, so the model drops it now.
    for (const std::uint64_t pfn : m_k.swap.put(swp_offset(entry), nr)) folio_free_swap(pfn);
}

void MmOps::folio_free_swap(std::uint64_t pfn) {
    const std::optional<Folio> folio = m_k.folios.folio_of(pfn);
    if (!folio) return;
    Rmap::Info& info = m_k.rmap.info(folio->head_pfn);
    if (!info.swapcache) return;
    m_k.swap.cache_remove(info.swap_offset, folio->nr_pages());
    info.swapcache = false;
    m_pages.free_pages_and_swap_cache(folio->head_pfn);
}

}  // namespace mmusim::kernel
