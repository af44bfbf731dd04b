#include "models/kernel/mmu_gather.h"

#include <algorithm>

#include "models/kernel/page_alloc.h"

namespace mmusim::kernel {

MmuGather::MmuGather(TlbFlush& flush, const Mm& mm, bool fullmm, std::uint64_t page_size, std::uint64_t pmd_size,
                     PageAlloc* pages)
    : m_flush(flush), m_mm(mm), m_fullmm(fullmm), m_page_size(page_size), m_pmd_size(pmd_size), m_pages(pages) {
    // __tlb_gather_mmu: the local batch holds MMU_GATHER_BUNDLE slots and is the active one.
    m_batches.emplace_back();
    m_batches[0].max = kBundle;
}

void MmuGather::add_range(std::uint64_t addr, std::uint64_t size) {
    // One interval: disjoint ranges become their hull.
    m_start = std::min(m_start, addr);
    m_end = std::max(m_end, addr + size);
}

void MmuGather::reset_range() {
    m_start = ~std::uint64_t{0};
    m_end = 0;
    m_cleared_ptes = m_cleared_pmds = m_freed_tables = false;
}

void MmuGather::tlb_flush_pte_range(std::uint64_t addr, std::uint64_t size) {
    add_range(addr, size);
    m_cleared_ptes = true;
}

void MmuGather::tlb_flush_pmd_range(std::uint64_t addr, std::uint64_t size) {
    add_range(addr, size);
    m_cleared_pmds = true;
}

void MmuGather::pte_free_tlb(std::uint64_t addr) {
    tlb_flush_pmd_range(addr, m_page_size);
    m_freed_tables = true;
}

void MmuGather::tlb_start_vma(const Vma& /*vma*/) {}

void MmuGather::tlb_end_vma(const Vma& /*vma*/) {
    // arm64 does not merge VMAs into one flush: flush at every VMA boundary, so that the
    // interval never spans the gap between two VMAs. The gathered pages stay queued.
    if (m_fullmm) return;
    tlb_flush_mmu_tlbonly();
}

void MmuGather::tlb_flush_mmu_tlbonly() {
    if (!(m_freed_tables || m_cleared_ptes || m_cleared_pmds)) return;
    tlb_flush();
    reset_range();
}

void MmuGather::tlb_flush_mmu() {
    tlb_flush_mmu_tlbonly();
    // tlb_flush_mmu_free: page tables are freed at once by the model (no tlb_table_flush).
    tlb_batch_pages_flush();
}

void MmuGather::tlb_finish_mmu() {
    tlb_flush_mmu();
    // tlb_batch_list_free: the batch pages are freed last, outside any lazy section.
    for (std::size_t i = 1; i < m_batches.size(); ++i)
        if (m_pages != nullptr) m_pages->free_page(m_batches[i].page_pfn);
    m_batches.resize(1);
    m_active = 0;
}

void MmuGather::tlb_flush() {
    ++m_flushes;
    const bool last_level = !m_freed_tables;
    if (m_fullmm) {
        // Process exit: the ASID is not reused before a rollover, so leaf entries need no
        // invalidation; freed tables may still sit in walk caches.
        if (!last_level) m_flush.flush_tlb_mm(m_mm);
        return;
    }
    // tlb_get_unmap_size / tlb_get_level: the stride of the smallest level cleared; the TTL
    // hint only when one leaf level was touched and no table was freed.
    const std::uint64_t stride = m_cleared_ptes ? m_page_size : m_pmd_size;
    unsigned level = 0;
    if (!m_freed_tables) {
        if (m_cleared_ptes && !m_cleared_pmds) level = 3;
        else if (m_cleared_pmds && !m_cleared_ptes) level = 2;
    }
    m_flush.flush_tlb_range(m_mm, m_start, m_end, stride, last_level, level);
}

bool MmuGather::__tlb_remove_folio_pages(std::uint64_t pfn, unsigned nr, bool delay_rmap) {
    // __tlb_remove_folio_pages_size (mm/mmu_gather.c): one slot for a single page, two for a
    // folio range (ENCODED_PAGE_BIT_NR_PAGES_NEXT then the count). A batch counts as full
    // when fewer than two slots are left, so that the next entry always fits.
    Batch& batch = m_batches[m_active];
    batch.entries.push_back(Entry{pfn, nr, delay_rmap});
    batch.nr += nr == 1 ? 1 : 2;
    if (batch.nr >= batch.max - 1) {
        if (!tlb_next_batch()) return true;
    }
    return false;
}

bool MmuGather::tlb_next_batch() {
    // Limit batching if delayed rmaps are pending: tlb_flush_rmaps walks only the local and
    // the active batch (since "mm: delay page_remove_rmap() until after the TLB has been
    // flushed", before v6.9; unchanged in the current tree).
    if (m_delayed_rmap && m_active != 0) return false;
    if (m_active + 1 < m_batches.size()) {
        ++m_active;  // a batch page kept from before an earlier forced flush
        return true;
    }
    if (batch_count() == max_gather_batch_count()) return false;
    // __get_free_page(GFP_NOWAIT): inside zap_pte_range's lazy-MMU section, so that under
    // DEBUG_PAGEALLOC its linear-map update opens a nested section (spec/kernel.md §4.4).
    std::uint64_t page_pfn = 0;
    if (m_pages != nullptr) {
        const std::optional<std::uint64_t> page = m_pages->get_free_page();
        if (!page) return false;
        page_pfn = *page;
    }
    ++m_flush.stats().gather_batch_pages;
    Batch batch;
    batch.max = max_gather_batch();
    batch.page_pfn = page_pfn;
    m_batches.push_back(std::move(batch));
    m_active = m_batches.size() - 1;
    return true;
}

void MmuGather::tlb_remove_page_size(std::uint64_t pfn) {
    if (__tlb_remove_page_size(pfn)) {
        ++m_flush.stats().gather_forced_flushes;
        tlb_flush_mmu();
    }
}

void MmuGather::tlb_flush_rmap_batch(Batch& batch) {
    for (const Entry& e : batch.entries)
        if (e.delay_rmap && m_pages != nullptr) m_pages->folio_remove_rmap_ptes(e.pfn, m_mm.id, e.nr);
}

void MmuGather::tlb_flush_rmaps() {
    if (!m_delayed_rmap) return;
    tlb_flush_rmap_batch(m_batches[0]);
    if (m_active != 0) tlb_flush_rmap_batch(m_batches[m_active]);
    // The entries stay queued for freeing; only their rmap work is done.
    for (Batch& b : m_batches)
        for (Entry& e : b.entries) e.delay_rmap = false;
    m_delayed_rmap = false;
}

void MmuGather::tlb_batch_pages_flush() {
    // free_pages_and_swap_cache: the gather's references go; a folio that nobody maps any
    // more is freed now, after the TLB flush that removed its translations.
    for (Batch& b : m_batches) {
        if (m_pages != nullptr)
            for (const Entry& e : b.entries) m_pages->free_pages_and_swap_cache(e.pfn);
        b.entries.clear();
        b.nr = 0;
    }
    m_active = 0;
}

std::uint64_t MmuGather::gathered_slots() const {
    std::uint64_t n = 0;
    for (const Batch& b : m_batches) n += b.nr;
    return n;
}

}  // namespace mmusim::kernel
