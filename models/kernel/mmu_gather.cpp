#include "models/kernel/mmu_gather.h"

#include <algorithm>

namespace mmusim::kernel {

MmuGather::MmuGather(TlbFlush& flush, const Mm& mm, bool fullmm, std::uint64_t page_size, std::uint64_t pmd_size)
    : m_flush(flush), m_mm(mm), m_fullmm(fullmm), m_page_size(page_size), m_pmd_size(pmd_size) {}

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
    // interval never spans the gap between two VMAs.
    if (m_fullmm) return;
    tlb_flush_mmu_tlbonly();
}

void MmuGather::tlb_flush_mmu_tlbonly() {
    if (!(m_freed_tables || m_cleared_ptes || m_cleared_pmds)) return;
    tlb_flush();
    reset_range();
}

void MmuGather::tlb_finish_mmu() { tlb_flush_mmu_tlbonly(); }

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

}  // namespace mmusim::kernel
