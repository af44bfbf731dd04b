// struct mmu_gather (include/asm-generic/tlb.h, arch/arm64/include/asm/tlb.h): TLB
// invalidations deferred while entries are cleared or downgraded, kept as ONE interval (the
// hull of every recorded range) and flushed at the end of each VMA and at tlb_finish_mmu
// (spec/kernel.md §3.4).
#pragma once

#include <cstdint>

#include "models/kernel/mm.h"
#include "models/kernel/tlb_flush.h"

namespace mmusim::kernel {

class MmuGather {
public:
    // tlb_gather_mmu / tlb_gather_mmu_fullmm.
    MmuGather(TlbFlush& flush, const Mm& mm, bool fullmm, std::uint64_t page_size, std::uint64_t pmd_size);

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
    void tlb_finish_mmu();

    bool empty() const { return m_end == 0; }
    std::uint64_t start() const { return m_start; }
    std::uint64_t end() const { return m_end; }
    unsigned flushes() const { return m_flushes; }

private:
    void add_range(std::uint64_t addr, std::uint64_t size);
    void reset_range();
    // arm64 tlb_flush().
    void tlb_flush();

    TlbFlush& m_flush;
    const Mm& m_mm;
    bool m_fullmm;
    std::uint64_t m_page_size, m_pmd_size;
    std::uint64_t m_start = ~std::uint64_t{0}, m_end = 0;
    bool m_cleared_ptes = false, m_cleared_pmds = false, m_freed_tables = false;
    unsigned m_flushes = 0;
};

}  // namespace mmusim::kernel
