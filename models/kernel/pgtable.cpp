#include "models/kernel/pgtable.h"

namespace mmusim::kernel {

using namespace arch::bits;

Pgtable::Pgtable(const KernelConfig& config, KernelStats& stats, PteMemory& mem, TlbFlush& flush,
                 const FolioAllocator& folios)
    : m_config(config), m_geo(arch::geometry(config.granule)), m_stats(stats), m_mem(mem), m_flush(flush),
      m_folios(folios) {}

Desc Pgtable::__ptep_get(std::uint64_t ptep) { return m_mem.read(ptep); }

Desc Pgtable::__ptep_get_and_clear(std::uint64_t ptep) { return m_mem.xchg(ptep, 0); }

void Pgtable::__set_ptes(const Mm& /*mm*/, std::uint64_t /*addr*/, std::uint64_t ptep, Desc pte, unsigned nr) {
    for (unsigned i = 0; i < nr; ++i) {
        m_mem.write(ptep + 8 * i, pte);
        if (i + 1 < nr) pte = pfn_pte(pte_pfn(pte) + 1, pte);
    }
    // Only valid kernel entries (no EL0 access, not executable at EL0) ask for barriers;
    // user entries never do: a racing access takes a spurious fault instead (§4.1).
    if (arch::desc_valid(pte) && (pte & kUser) == 0 && (pte & kUxn) != 0) m_flush.emit_pte_barriers();
}

Desc Pgtable::ptep_get(std::uint64_t ptep) {
    const Desc pte = __ptep_get(ptep);
    if (!contpte_enabled() || !arch::desc_valid_cont(pte)) return pte;
    return contpte_ptep_get(ptep, pte);
}

Desc Pgtable::ptep_get_lockless(std::uint64_t ptep) {
    // As in Linux: one read; a folded target is then read again by the consistency loop.
    const Desc pte = __ptep_get(ptep);
    if (!contpte_enabled() || !arch::desc_valid_cont(pte)) return pte;
    return contpte_ptep_get_lockless(ptep);
}

void Pgtable::set_ptes(const Mm& mm, std::uint64_t addr, std::uint64_t ptep, Desc pte, unsigned nr) {
    if (!contpte_enabled()) {
        __set_ptes(mm, addr, ptep, pte, nr);
        return;
    }
    pte = pte_mknoncont(pte);
    if (nr == 1) {
        contpte_try_unfold(mm, addr, ptep, __ptep_get(ptep));
        __set_ptes(mm, addr, ptep, pte, 1);
        contpte_try_fold(mm, addr, ptep, pte);
    } else {
        contpte_set_ptes(mm, addr, ptep, pte, nr);
    }
}

Desc Pgtable::ptep_get_and_clear(const Mm& mm, std::uint64_t addr, std::uint64_t ptep) {
    if (contpte_enabled()) contpte_try_unfold(mm, addr, ptep, __ptep_get(ptep));
    return __ptep_get_and_clear(ptep);
}

Desc Pgtable::ptep_clear_flush(const Mm& mm, std::uint64_t addr, std::uint64_t ptep) {
    const Desc pte = ptep_get_and_clear(mm, addr, ptep);
    if (arch::desc_valid(pte)) m_flush.flush_tlb_page(mm, addr);
    return pte;
}

}  // namespace mmusim::kernel
