// MADV_COLLAPSE (mm/khugepaged.c madvise_collapse): each whole PMD range of the advised range
// whose PTE table maps only anonymous pages (or nothing, or the zero page) becomes one
// PMD-mapped THP, whatever the sysfs THP settings (the madvise ignores them, VM_NOHUGEPAGE
// aside). hpage_collapse_scan_pmd checks the entries, collapse_huge_page allocates the THP,
// detaches and flushes the PTE table (pmdp_collapse_flush), copies the pages and clears the
// detached entries (__collapse_huge_page_copy_succeeded: ptep_clear per entry, which unfolds
// each folded block with its own TLBI, before v6.17; one clear_ptes per folio batch from v6.17,
// "khugepaged: optimize __collapse_huge_page_copy_succeeded() by PTE batching"), then maps
// the THP with the old table deposited. khugepaged's own background scan is not modelled; the
// fold scanner (kernel.fold_policy "scanner") plays its part for contiguous blocks. File and
// shmem collapse (collapse_file) is not modelled: such a VMA answers EINVAL.
#include "models/kernel/kernel_error.h"
#include "models/kernel/mm_ops.h"
#include "models/kernel/pte.h"

namespace mmusim::kernel {

using namespace arch::bits;

namespace {
// madvise_collapse_errno: what the call answers for the last failure.
int collapse_errno(MmOps::Scan s) { return s == MmOps::Scan::AllocFail ? -err::kEnomem : -err::kEinval; }
}  // namespace

int MmOps::madvise_collapse(Mm& mm, std::uint64_t start, std::uint64_t end) {
    const std::uint64_t pmd_size = m_k.geo.pmd_size();
    // thp_vma_allowable_order without TVA_ENFORCE_SYSFS: any anonymous private VMA but a
    // VM_NOHUGEPAGE one.
    for (auto it = mm.vmas.begin(); it != mm.vmas.end(); ++it) {
        const Vma& v = it->second;
        if (v.end <= start || v.start >= end) continue;
        if (!v.anonymous() || v.flags.nohugepage) return -err::kEinval;
    }
    const std::uint64_t hstart = (start + pmd_size - 1) & ~(pmd_size - 1);
    const std::uint64_t hend = end & ~(pmd_size - 1);
    std::uint64_t thps = 0, ranges = 0;
    Scan last_fail = Scan::Succeed;
    for (std::uint64_t addr = hstart; addr < hend; addr += pmd_size) {
        ++ranges;
        Vma* vma = mm.find_vma(addr);
        if (vma == nullptr || vma->start > addr || vma->end < addr + pmd_size) {
            last_fail = Scan::PmdNull;  // hugepage_vma_revalidate: no VMA holds the range
            continue;
        }
        const Scan r = hpage_collapse_scan_pmd(mm, *vma, addr);
        if (r == Scan::Succeed || r == Scan::PmdMapped) ++thps;
        else last_fail = r;
        if (r == Scan::AllocFail) break;  // other errors end the call
    }
    return thps == ranges ? 0 : collapse_errno(last_fail);
}

MmOps::Scan MmOps::hpage_collapse_scan_pmd(Mm& mm, Vma& vma, std::uint64_t haddr) {
    std::uint64_t pmd = 0;
    Desc pmdval = 0;
    const std::uint64_t table = pte_table_of(mm, haddr, &pmd, &pmdval);
    if (table == 0) return pmd_leaf(pmdval) ? Scan::PmdMapped : Scan::PmdNull;
    // Every entry is read: none and zero-page entries are fine for MADV_COLLAPSE (no
    // max_ptes_none; not in a uffd-armed VMA), anything else must be a present page of an
    // anonymous folio without the uffd-wp bit.
    const std::uint64_t page = m_k.geo.page_size();
    for (std::uint64_t a = haddr; a < haddr + m_k.geo.pmd_size(); a += page) {
        const Desc pte = m_k.pgtable.ptep_get(m_k.tables.pte_offset(table, a));
        const bool zero = pte_present(pte) && arch::desc_pfn(pte, m_k.geo.page_shift) == m_k.zero_pfn;
        if (pte_none(pte) || zero) {
            if (vma.uffd_armed()) return Scan::PmdNull;  // SCAN_EXCEED_NONE_PTE (EINVAL here too)
            continue;
        }
        if (is_swap_entry(pte))
            throw KernelError("MADV_COLLAPSE over a swapped-out page at VA " + hex(a) +
                              ": collapse's swap-in (__collapse_huge_page_swapin) is not modelled; touch the range first");
        if (!pte_present(pte) || pte_protnone(pte)) return Scan::NonPresent;
        if (pte_uffd_wp(pte)) return Scan::UffdWp;
        const std::optional<Folio> folio = vm_normal_folio(vma, pte);
        if (!folio || !m_k.rmap.info(folio->head_pfn).anon) return Scan::PageNotAnon;
    }
    return collapse_huge_page(mm, vma, haddr, pmd, table);
}

MmOps::Scan MmOps::collapse_huge_page(Mm& mm, Vma& vma, std::uint64_t haddr, std::uint64_t pmd, std::uint64_t table) {
    const std::optional<Folio> folio = m_pages.try_alloc_fallible(m_k.geo.pmd_order(), true, true);
    if (!folio) return Scan::AllocFail;
    // pmdp_collapse_flush: the PMD entry cleared and the whole range flushed (all levels:
    // the table leaves the walk), so no CPU can reach the old pages any more.
    (void)m_k.tables.pmdp_huge_get_and_clear(pmd);
    m_k.flush.flush_tlb_range(mm, haddr, haddr + m_k.geo.pmd_size(), m_k.geo.page_size(), false, 0);
    // __collapse_huge_page_isolate and the copy: every entry read again; then the detached
    // entries are cleared and the old pages unmapped (and freed when nothing else maps them).
    // The copy is costed as clearing the new folio (try_alloc's zeroing).
    const std::uint64_t page = m_k.geo.page_size();
    const bool batched = m_k.config.version.at_least(6, 17);
    Pgtable& pt = m_k.pgtable;
    for (std::uint64_t a = haddr; a < haddr + m_k.geo.pmd_size();) {
        const std::uint64_t ptep = m_k.tables.pte_offset(table, a);
        const Desc pte = pt.ptep_get(ptep);
        unsigned nr = 1;
        if (pte_none(pte)) {
            a += page;
            continue;
        }
        const std::uint64_t pfn = arch::desc_pfn(pte, m_k.geo.page_shift);
        if (pfn == m_k.zero_pfn) {
            (void)pt.ptep_get_and_clear(mm, a, ptep);  // ptep_clear
            a += page;
            continue;
        }
        const std::optional<Folio> src = m_k.folios.folio_of(pfn);
        if (batched && src && src->order > 0)
            nr = folio_pte_batch(*src, ptep, pte, static_cast<unsigned>((haddr + m_k.geo.pmd_size() - a) / page), 0);
        if (batched) pt.clear_full_ptes(mm, a, ptep, nr);  // clear_ptes
        else (void)pt.ptep_get_and_clear(mm, a, ptep);     // ptep_clear
        m_pages.unmap(pfn, mm.id, nr);
        a += std::uint64_t{nr} * page;
    }
    // The THP: dirty, writable in a writable VMA, exclusive to this process; the old table
    // kept aside for a later split.
    Desc entry = arch::desc_with_pfn(vma.page_prot, folio->head_pfn, m_k.geo.page_shift) & ~kType;
    entry = arch::desc_mkdirty(entry);
    if (vma.flags.write) entry = arch::desc_mkwrite(entry);
    deposit_table(mm, haddr, table);
    m_k.tables.set_pmd_at(pmd, entry);
    m_k.rmap.add(folio->head_pfn, mm.id, m_k.geo.ptrs_per_table());
    vma.anon_vma = true;
    ++m_k.stats.thp_collapse_alloc;
    return Scan::Succeed;
}

}  // namespace mmusim::kernel
