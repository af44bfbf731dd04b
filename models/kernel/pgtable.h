// The arm64 user page-table API (arch/arm64/include/asm/pgtable.h) over real descriptors:
// the double-underscore primitives that touch one entry, the public functions core mm calls,
// and the contpte engine behind them (arch/arm64/mm/contpte.c, in contpte.cpp).
// A PTE pointer (`ptep`) is the physical address of the entry; entry i of a run is ptep + 8i.
// Every function is named after the kernel function it imitates; spec/kernel.md §5 gives
// the event sequence each one must produce.
#pragma once

#include <cstdint>

#include "models/arch/descriptor.h"
#include "models/arch/granule.h"
#include "models/kernel/folio_allocator.h"
#include "models/kernel/kernel_config.h"
#include "models/kernel/kernel_stats.h"
#include "models/kernel/mm.h"
#include "models/kernel/pte_memory.h"
#include "models/kernel/tlb_flush.h"

namespace mmusim::kernel {

using arch::Desc;

class Pgtable {
public:
    Pgtable(const KernelConfig& config, KernelStats& stats, PteMemory& mem, TlbFlush& flush,
            const FolioAllocator& folios);

    const arch::Geometry& geo() const { return m_geo; }

    // Primitives on one entry.
    Desc __ptep_get(std::uint64_t ptep);
    void __set_ptes(const Mm& mm, std::uint64_t addr, std::uint64_t ptep, Desc pte, unsigned nr);
    Desc __ptep_get_and_clear(std::uint64_t ptep);

    // Public API (contpte-aware when the kernel is built with contpte).
    Desc ptep_get(std::uint64_t ptep);
    Desc ptep_get_lockless(std::uint64_t ptep);
    void set_ptes(const Mm& mm, std::uint64_t addr, std::uint64_t ptep, Desc pte, unsigned nr);
    void set_pte_at(const Mm& mm, std::uint64_t addr, std::uint64_t ptep, Desc pte) { set_ptes(mm, addr, ptep, pte, 1); }
    Desc ptep_get_and_clear(const Mm& mm, std::uint64_t addr, std::uint64_t ptep);
    // Generic ptep_clear_flush: get-and-clear, then flush_tlb_page if the old entry was
    // accessible (arm64 pte_accessible: valid, AF ignored).
    Desc ptep_clear_flush(const Mm& mm, std::uint64_t addr, std::uint64_t ptep);

    // contpte engine (contpte.cpp).
    void contpte_try_fold(const Mm& mm, std::uint64_t addr, std::uint64_t ptep, Desc pte);
    void contpte_try_unfold(const Mm& mm, std::uint64_t addr, std::uint64_t ptep, Desc pte);
    void __contpte_try_fold(const Mm& mm, std::uint64_t addr, std::uint64_t ptep, Desc pte);
    void __contpte_try_unfold(const Mm& mm, std::uint64_t addr, std::uint64_t ptep, Desc pte);
    void contpte_convert(const Mm& mm, std::uint64_t addr, std::uint64_t ptep, Desc pte);
    void contpte_set_ptes(const Mm& mm, std::uint64_t addr, std::uint64_t ptep, Desc pte, unsigned nr);
    Desc contpte_ptep_get(std::uint64_t ptep, Desc orig_pte);
    Desc contpte_ptep_get_lockless(std::uint64_t orig_ptep);

private:
    // Helpers on values (no memory access).
    Desc pte_mkcont(Desc d) const { return d | arch::bits::kCont; }
    Desc pte_mknoncont(Desc d) const { return d & ~arch::bits::kCont; }
    std::uint64_t pte_pfn(Desc d) const { return arch::desc_pfn(d, m_geo.page_shift); }
    Desc pfn_pte(std::uint64_t pfn, Desc prot) const { return arch::desc_with_pfn(prot, pfn, m_geo.page_shift); }
    std::uint64_t contpte_align_down(std::uint64_t ptep) const { return ptep & ~(std::uint64_t{m_geo.cont_ptes()} * 8 - 1); }
    // Attributes of an entry with A/D normalised (pte_pgprot(pte_mkold(pte_mkclean(pte)))).
    Desc normalised_prot(Desc d) const { return arch::desc_with_pfn(arch::desc_normalise_ad(d), 0, m_geo.page_shift); }
    bool contpte_enabled() const { return m_config.contpte; }

    const KernelConfig& m_config;
    const arch::Geometry& m_geo;
    KernelStats& m_stats;
    PteMemory& m_mem;
    TlbFlush& m_flush;
    const FolioAllocator& m_folios;
};

}  // namespace mmusim::kernel
