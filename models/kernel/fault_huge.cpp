// Faults on PMD-sized anonymous THPs (mm/huge_memory.c): the first touch maps a PMD folio
// (a write) or the huge zero folio (a read), a write to a read-only leaf reuses an exclusive
// folio or splits the PMD and lets the PTE level copy one page, and access-flag faults
// update the leaf in place.
#include "models/kernel/fault.h"
#include "models/kernel/pte.h"

namespace mmusim::kernel {

using namespace arch::bits;

std::uint64_t FaultHandler::huge_zero_pfn() {
    if (m_k.huge_zero_pfn == 0) {
        // mm_get_huge_zero_folio: one zeroed PMD-sized folio, kept for the rest of the run.
        const std::optional<Folio> f = m_k.folios.alloc(m_k.geo.pmd_order());
        if (f) m_k.huge_zero_pfn = f->head_pfn;
    }
    return m_k.huge_zero_pfn;
}

void FaultHandler::map_anon_folio_pmd(VmFault& vmf, const Folio& folio) {
    const Vma& vma = *vmf.vma;
    arch::Desc entry = arch::desc_with_pfn(vma.page_prot, folio.head_pfn, m_k.geo.page_shift) & ~kType;
    entry = arch::desc_mkdirty(entry);
    if (vma.flags.write) entry = arch::desc_mkwrite(entry);  // maybe_pmd_mkwrite
    m_k.tables.set_pmd_at(vmf.pmd, entry);
    m_k.rmap.add(folio.head_pfn, vmf.mm->id, m_k.geo.ptrs_per_table());
    ++m_k.stats.thp_fault_alloc;
    ++m_k.stats.anon_fault_alloc_by_size[m_k.geo.pmd_size()];  // count_mthp_stat(HPAGE_PMD_ORDER, MTHP_STAT_ANON_FAULT_ALLOC)
}

const char* FaultHandler::do_huge_pmd_anonymous_page(VmFault& vmf) {
    Mm& mm = *vmf.mm;
    const std::uint64_t haddr = vmf.address & ~(m_k.geo.pmd_size() - 1);
    vmf.vma->anon_vma = true;  // vmf_anon_prepare
    if (!vmf.write && vmf.use_zero_page) {
        // A read maps the huge zero folio read-only, with a table deposited
        // (set_huge_zero_folio). Its PMD is special from v6.18 only ("mm/huge_memory: mark PMD
        // mappings of the huge zero folio special"); before, pmd_mkhuge(mk_pmd(...)) leaves
        // PTE_SPECIAL clear, as linux-check sees on 6.12 (configs/linux/swap_lazyfree.json).
        const std::uint64_t table = m_k.tables.pte_alloc_one();
        const std::uint64_t zero = huge_zero_pfn();
        if (zero == 0) {
            m_k.tables.pte_free(table);
            ++m_k.stats.thp_fault_fallback;
            return nullptr;
        }
        arch::Desc entry = arch::desc_with_pfn(vmf.vma->page_prot, zero, m_k.geo.page_shift) & ~kType;
        if (m_k.config.version.at_least(6, 18)) entry |= kSwSpecial;
        entry &= ~kDbm;
        m_ops.deposit_table(mm, haddr, table);
        m_k.tables.set_pmd_at(vmf.pmd, entry);
        ++m_k.stats.thp_zero_page_mapped;
        return "anon_huge_zero_page";
    }
    // A write: a zeroed PMD-sized folio, or the PTE level when none is free.
    const std::optional<Folio> folio = m_pages.try_alloc_fallible(m_k.geo.pmd_order(), true, true);
    if (!folio) {
        ++m_k.stats.thp_fault_fallback;
        return nullptr;
    }
    m_ops.deposit_table(mm, haddr, m_k.tables.pte_alloc_one());
    map_anon_folio_pmd(vmf, *folio);
    return "anon_huge_pmd";
}

const char* FaultHandler::do_huge_pmd_wp_page(VmFault& vmf, arch::Desc orig_pmd) {
    Mm& mm = *vmf.mm;
    const Vma& vma = *vmf.vma;
    const std::uint64_t haddr = vmf.address & ~(m_k.geo.pmd_size() - 1);
    if (pte_uffd_wp(orig_pmd) && vma.flags.uffd_wp) {
        // The model resolves uffd-wp at PTE granularity: the leaf is split and the PTE
        // level delivers the event (Linux delivers it for the whole PMD first).
        m_ops.split_huge_pmd(mm, vma, vmf.pmd, vmf.address);
        return nullptr;
    }
    if (m_ops.is_huge_zero_pmd(orig_pmd)) {
        // do_huge_zero_wp_pmd: a new folio replaces the zero folio (clear, flush, map);
        // without a free PMD block the leaf is split and the PTE level copies one page.
        const std::optional<Folio> folio = m_pages.try_alloc_fallible(m_k.geo.pmd_order(), true, true);
        if (!folio) {
            ++m_k.stats.thp_fault_fallback;
            m_ops.split_huge_pmd(mm, vma, vmf.pmd, vmf.address);
            return nullptr;
        }
        (void)m_k.tables.pmdp_huge_get_and_clear(vmf.pmd);
        m_ops.flush_pmd_tlb_range(mm, haddr);
        map_anon_folio_pmd(vmf, *folio);
        return "anon_huge_zero_wp";
    }
    const std::uint64_t head = arch::desc_pfn(orig_pmd, m_k.geo.page_shift);
    // do_huge_pmd_wp_page: reuse a PageAnonExclusive THP, or one only this PMD references
    // (folio_ref_count == 1: no other process maps it), which then becomes exclusive.
    if (m_k.rmap.anon_exclusive(head) || m_k.rmap.exclusive_to(head, mm.id)) {
        m_k.rmap.set_anon_exclusive(head, m_k.geo.ptrs_per_table());
        // Reuse: young, dirty and writable in place.
        arch::Desc entry = arch::desc_mkdirty(arch::desc_mkyoung(orig_pmd));
        if (vma.flags.write) entry = arch::desc_mkwrite(entry);
        (void)pmdp_set_access_flags(mm, haddr, vmf.pmd, entry, true);
        return "huge_pmd_reuse";
    }
    // Shared with another process (after fork): split, then the PTE level copies the page.
    m_ops.split_huge_pmd(mm, vma, vmf.pmd, vmf.address);
    return nullptr;
}

const char* FaultHandler::huge_pmd_set_accessed(VmFault& vmf, arch::Desc orig_pmd) {
    // touch_pmd: young (and dirty for a write); nothing to change is a spurious fault,
    // which from v6.19 drops this CPU's stale entry on a write.
    const std::uint64_t haddr = vmf.address & ~(m_k.geo.pmd_size() - 1);
    arch::Desc entry = arch::desc_mkyoung(orig_pmd);
    if (vmf.write) entry = arch::desc_mkdirty(entry);
    if (pmdp_set_access_flags(*vmf.mm, haddr, vmf.pmd, entry, vmf.write)) return "huge_pmd_access_flag";
    if (vmf.write && m_k.config.version.at_least(6, 19)) m_k.flush.local_flush_tlb_page(*vmf.mm, vmf.address);
    return "huge_pmd_spurious";
}

bool FaultHandler::pmdp_set_access_flags(const Mm& mm, std::uint64_t haddr, std::uint64_t pmd, arch::Desc entry,
                                         bool dirty) {
    // __ptep_set_access_flags on the PMD: one atomic update.
    const arch::Desc old = m_k.tables.pmd_read(pmd);
    const arch::Desc next = access_flags_update(old, entry);
    if (pte_same(old, next)) return false;
    (void)m_k.tables.pmdp_establish(pmd, next);
    if (dirty) m_k.pgtable.flush_access_flag_page(mm, haddr);
    return true;
}

}  // namespace mmusim::kernel
