// struct mmu_gather (include/asm-generic/tlb.h, mm/mmu_gather.c, arch/arm64/include/asm/tlb.h):
// TLB invalidations deferred while entries are cleared or downgraded, kept as ONE interval
// (the hull of every recorded range) and flushed at the end of each VMA and at tlb_finish_mmu
// (spec/kernel.md §3.4); and the pages a zap unmapped, queued in batches and freed only after
// the flush that removed their last translations (tlb_batch_pages_flush). A full batch store,
// or a dirty file folio whose rmap removal must wait for the flush, makes the zap flush early
// (zap_pte_range's force_flush).
#pragma once

#include <cstdint>
#include <vector>

#include "models/kernel/mm.h"
#include "models/kernel/tlb_flush.h"

namespace mmusim::kernel {

class PageAlloc;

class MmuGather {
public:
    // tlb_gather_mmu / tlb_gather_mmu_fullmm. `pages` frees the gathered pages and gives the
    // batch pages; without it (tests of the flush rules alone) pages are only counted.
    MmuGather(TlbFlush& flush, const Mm& mm, bool fullmm, std::uint64_t page_size, std::uint64_t pmd_size,
              PageAlloc* pages = nullptr);

    // tlb_flush_pte_range / tlb_remove_tlb_entries: PTEs of [addr, addr + size) changed.
    void tlb_flush_pte_range(std::uint64_t addr, std::uint64_t size);
    // tlb_flush_pmd_range: PMD entries (leaf or table) of [addr, addr + size) changed.
    void tlb_flush_pmd_range(std::uint64_t addr, std::uint64_t size);
    // pte_free_tlb: the PTE table covering `addr` is freed.
    void pte_free_tlb(std::uint64_t addr);

    void tlb_start_vma(const Vma& vma);
    // Flushes the recorded range unless the whole mm is going away.
    void tlb_end_vma(const Vma& vma);
    // tlb_flush_mmu_tlbonly: flush now if anything was recorded, then start a new interval.
    void tlb_flush_mmu_tlbonly();
    // tlb_flush_mmu: the TLB flush, then the gathered pages are freed (tlb_flush_mmu_free).
    void tlb_flush_mmu();
    // tlb_flush_mmu, then the batch pages go back to the allocator (tlb_batch_list_free).
    void tlb_finish_mmu();

    // __tlb_remove_folio_pages: `nr` pages of one folio from `pfn` are queued for freeing
    // after the flush, in one slot (nr = 1) or two (the page and nr, since v6.9's "mm/mmu_gather:
    // add __tlb_remove_folio_pages()"); `delay_rmap` also defers their rmap removal to
    // tlb_flush_rmaps. True when the batches are full: the caller must flush (force_flush).
    bool __tlb_remove_folio_pages(std::uint64_t pfn, unsigned nr, bool delay_rmap);
    // __tlb_remove_page_size: one slot for a page of any size (a PMD-mapped THP).
    bool __tlb_remove_page_size(std::uint64_t pfn) { return __tlb_remove_folio_pages(pfn, 1, false); }
    // tlb_remove_page_size: as above, flushing (tlb_flush_mmu) itself when full.
    void tlb_remove_page_size(std::uint64_t pfn);
    // tlb_delay_rmap (CONFIG_SMP, so always on arm64): marks delayed rmaps pending, true.
    bool tlb_delay_rmap() {
        m_delayed_rmap = true;
        return true;
    }
    // tlb_flush_rmaps: the rmap removals delayed until after the TLB flush (local and active
    // batch only: tlb_next_batch never starts a batch past the first while they are pending).
    void tlb_flush_rmaps();

    bool empty() const { return m_end == 0; }
    std::uint64_t start() const { return m_start; }
    std::uint64_t end() const { return m_end; }
    unsigned flushes() const { return m_flushes; }
    // Batch pages allocated by tlb_next_batch so far, and slots in use over all batches.
    unsigned batch_count() const { return static_cast<unsigned>(m_batches.size() - 1); }
    std::uint64_t gathered_slots() const;
    bool delayed_rmap() const { return m_delayed_rmap; }

    // MMU_GATHER_BUNDLE: the slots of the batch inside struct mmu_gather (on the stack).
    static constexpr unsigned kBundle = 8;
    // MAX_GATHER_BATCH: the slots of a batch page (a page less the batch header of 16 bytes).
    unsigned max_gather_batch() const { return static_cast<unsigned>((m_page_size - 16) / 8); }
    // MAX_GATHER_BATCH_COUNT: batch pages a gather may allocate (about 10000 pages).
    unsigned max_gather_batch_count() const { return 10000u / max_gather_batch(); }

private:
    // One queued folio range: encode_page(page, flags) [+ encode_nr_pages(nr)].
    struct Entry {
        std::uint64_t pfn;
        unsigned nr;
        bool delay_rmap;
    };
    // struct mmu_gather_batch: `nr` counts slots, not entries.
    struct Batch {
        unsigned nr = 0, max = 0;
        std::uint64_t page_pfn = 0;  // the batch page (0: the bundle in the gather)
        std::vector<Entry> entries;
    };

    void add_range(std::uint64_t addr, std::uint64_t size);
    void reset_range();
    // arm64 tlb_flush().
    void tlb_flush();
    // tlb_next_batch: move to the next batch page, allocating one if allowed.
    bool tlb_next_batch();
    // tlb_batch_pages_flush: free_pages_and_swap_cache of every queued entry.
    void tlb_batch_pages_flush();
    void tlb_flush_rmap_batch(Batch& batch);

    TlbFlush& m_flush;
    const Mm& m_mm;
    bool m_fullmm;
    std::uint64_t m_page_size, m_pmd_size;
    PageAlloc* m_pages;
    std::uint64_t m_start = ~std::uint64_t{0}, m_end = 0;
    bool m_cleared_ptes = false, m_cleared_pmds = false, m_freed_tables = false;
    bool m_delayed_rmap = false;
    unsigned m_flushes = 0;
    std::vector<Batch> m_batches;  // [0] is the local bundle, then the batch pages in list order
    std::size_t m_active = 0;
};

}  // namespace mmusim::kernel
