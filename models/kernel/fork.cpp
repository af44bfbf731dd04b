// fork (kernel/fork.c dup_mmap, mm/memory.c copy_page_range): the child gets copies of the
// VMAs; page tables are copied only where they must be (anonymous memory, pfn maps), in
// folio batches; private writable entries are write-protected in the parent without a TLBI
// per entry, and one flush_tlb_mm of the parent ends the fork (spec/kernel.md §6.8).
#include "models/kernel/mm_ops.h"
#include "models/kernel/pte.h"

namespace mmusim::kernel {

std::unique_ptr<Mm> MmOps::fork(Mm& parent, unsigned child_id, std::uint16_t child_asid) {
    auto child = std::make_unique<Mm>();
    child->id = child_id;
    child->asid = child_asid;
    child->user = true;
    child->pgd_pa = m_k.tables.pgd_alloc();
    for (const auto& [start, vma] : parent.vmas) {
        if (vma.flags.dontfork) continue;  // VM_DONTCOPY
        Vma copy = vma;
        // Without UFFD_FEATURE_EVENT_FORK the child is not registered with userfaultfd.
        copy.flags.uffd_missing = copy.flags.uffd_wp = false;
        child->vmas.emplace(start, copy);
        // vma_needs_copy: anonymous pages or pfn maps; other memory refaults in the child.
        if (!(vma.anon_vma || vma.pfnmap())) continue;
        for (std::uint64_t addr = vma.start; addr < vma.end;) {
            const std::uint64_t next = m_k.geo.pmd_addr_end(addr, vma.end);
            std::uint64_t pmd = 0;
            Desc pmdval = 0;
            if (const std::uint64_t table = pte_table_of(parent, addr, &pmd, &pmdval); table != 0) {
                copy_pte_range(*child, parent, vma, table, addr, next);
            } else if (pmd_leaf(pmdval) && !vma.pfnmap()) {
                // A THP or the huge zero folio is shared write-protected; a special huge
                // PMD (huge pfn map) is not copied: the child's driver refaults it.
                copy_huge_pmd(*child, pmd, addr);
            }
            addr = next;
        }
    }
    // One flush for the parent: until it completes, its CPUs may still write through stale
    // writable entries (accepted by design).
    m_k.flush.flush_tlb_mm(parent);
    return child;
}

void MmOps::copy_pte_range(Mm& dst, Mm& src, const Vma& src_vma, std::uint64_t src_table, std::uint64_t addr,
                           std::uint64_t end) {
    const std::uint64_t page = m_k.geo.page_size();
    Pgtable& pt = m_k.pgtable;
    const std::uint64_t dst_table = m_k.tables.pte_alloc(m_k.tables.pmd_alloc(dst, addr));
    const LazyMmu::State lazy = m_k.lazy.enable();
    while (addr < end) {
        const std::uint64_t src_pte = m_k.tables.pte_offset(src_table, addr);
        const std::uint64_t dst_pte = m_k.tables.pte_offset(dst_table, addr);
        Desc pte = pt.ptep_get(src_pte);
        unsigned nr = 1;
        if (!pte_present(pte)) {
            if (is_swap_entry(pte)) {
                // copy_nonpresent_pte: one more reference to the slot (swap_duplicate); the
                // entry is exclusive to neither process any more (both copies lose
                // PTE_SWP_EXCLUSIVE, the parent's rewritten), and the child keeps uffd-wp only
                // if its VMA does (it does not here: no UFFD_FEATURE_EVENT_FORK).
                m_k.swap.dup(swp_offset(pte));
                if (pte_swp_exclusive(pte)) {
                    pte = pte_swp_clear_exclusive(pte);
                    pt.set_pte_at(src, addr, src_pte, pte);
                }
                pt.set_pte_at(dst, addr, dst_pte, pte_swp_clear_uffd_wp(pte));
            }
            // Markers are copied only when the child keeps uffd-wp (it does not here).
            addr += page;
            continue;
        }
        const std::optional<Folio> folio = vm_normal_folio(src_vma, pte);
        if (folio && folio->order > 0) {
            unsigned flags = kFpbMergeWrite;
            if (!src_vma.flags.shared) flags |= kFpbRespectDirty;
            nr = folio_pte_batch(*folio, src_pte, pte, static_cast<unsigned>((end - addr) / page), flags, &pte);
        }
        if (folio) {
            m_k.rmap.add(folio->head_pfn, dst.id, nr);
            // folio_try_dup_anon_rmap_ptes: an anonymous page mapped by two processes is
            // exclusive to neither (page pinning, which would copy instead, is not modelled).
            if (m_k.rmap.info(folio->head_pfn).anon) m_k.rmap.clear_anon_exclusive(arch::desc_pfn(pte, m_k.geo.page_shift), nr);
        }
        // __copy_present_ptes.
        if (src_vma.is_cow() && arch::desc_write(pte)) {
            pt.wrprotect_ptes(src, addr, src_pte, nr);
            pte = pte_wrprotect(pte);
        }
        if (src_vma.flags.shared) pte = arch::desc_mkclean(pte);
        pte = arch::desc_mkold(pte);
        pte = pte_clear_uffd_wp(pte);  // the child VMA is not uffd-wp registered
        pt.set_ptes(dst, addr, dst_pte, pte, nr);
        addr += std::uint64_t{nr} * page;
    }
    m_k.lazy.disable(lazy);
}

}  // namespace mmusim::kernel
