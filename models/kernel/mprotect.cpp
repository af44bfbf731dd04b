// mprotect and change_protection (mm/mprotect.c): entries are rewritten in folio batches
// (v6.17+) or one at a time (before), the gather collects the entries whose change needs a
// flush, and one flush follows at the end of each VMA (spec/kernel.md §6.5). uffd-wp
// protect/unprotect and NUMA hinting use the same engine with their flags.
#include <algorithm>
#include <vector>

#include "models/kernel/mm_ops.h"
#include "models/kernel/pte.h"

namespace mmusim::kernel {

int MmOps::mprotect(Mm& mm, std::uint64_t addr, std::uint64_t len, unsigned prot) {
    if (!aligned(addr)) return -err::kEinval;
    if ((prot & ~(kProtRead | kProtWrite | kProtExec)) != 0) return -err::kEinval;
    len = page_align(len);
    if (len == 0) return 0;
    const std::uint64_t end = addr + len;
    if (end <= addr || end > arch::kUserVaEnd) return -err::kEnomem;
    if (mm.find_vma(addr) == nullptr) return -err::kEnomem;
    // Pfn maps set up by remap_pfn_range keep their permissions in the driver's hands;
    // Linux allows mprotect on them, and so does the model.
    MmuGather tlb = make_gather(mm, false);
    split_vma_at(mm, addr);
    split_vma_at(mm, end);
    int result = 0;
    std::uint64_t at = addr;
    while (at < end) {
        Vma* vma = mm.find_vma(at);
        if (vma == nullptr) {
            result = -err::kEnomem;  // a hole: what precedes it was changed, as in Linux
            break;
        }
        vma->flags.read = (prot & kProtRead) != 0;
        vma->flags.write = (prot & kProtWrite) != 0;
        vma->flags.exec = (prot & kProtExec) != 0;
        vma->page_prot = vma_page_prot(*vma);
        (void)change_protection(tlb, mm, *vma, vma->start, vma->end,
                                vma->wants_manual_pte_write_upgrade() ? unsigned{kCpTryChangeWritable} : 0u);
        at = vma->end;
    }
    tlb.tlb_finish_mmu();
    merge_vmas(mm, addr, end);
    return result;
}

int MmOps::numa_scan(Mm& mm, std::uint64_t addr, std::uint64_t len) {
    if (!aligned(addr)) return -err::kEinval;
    const std::uint64_t end = addr + page_align(len);
    if (end <= addr || end > arch::kUserVaEnd) return -err::kEinval;
    // Under the mmap lock held for reading: VMAs are neither split nor changed.
    MmuGather tlb = make_gather(mm, false);
    for (auto it = mm.vmas.begin(); it != mm.vmas.end(); ++it) {
        const Vma& vma = it->second;
        if (vma.end <= addr || vma.start >= end) continue;
        // vma_migratable and friends: only private anonymous memory is scanned here.
        if (!vma.anonymous() || !vma.flags.read) continue;
        (void)change_protection(tlb, mm, vma, std::max(addr, vma.start), std::min(end, vma.end), kCpProtNuma);
    }
    tlb.tlb_finish_mmu();
    return 0;
}

long MmOps::change_protection(MmuGather& tlb, Mm& mm, const Vma& vma, std::uint64_t start, std::uint64_t end,
                              unsigned cp_flags) {
    tlb.tlb_start_vma(vma);
    const std::uint64_t pmd_size = m_k.geo.pmd_size();
    // uffd-wp on marker-using VMAs populates page tables so none entries can get markers.
    const bool populate = (cp_flags & kCpUffdWp) != 0 && vma.uffd_wp_use_markers(mm.uffd_wp_unpopulated);
    long pages = 0;
    std::uint64_t addr = start;
    while (addr < end) {
        const std::uint64_t next = m_k.geo.pmd_addr_end(addr, end);
        std::uint64_t pmd = 0;
        Desc pmdval = 0;
        std::uint64_t table = pte_table_of(mm, addr, &pmd, &pmdval);
        if (table == 0 && pmd_leaf(pmdval)) {
            // change_pmd_range: a leaf wholly inside the range is changed in place (a
            // special one is left to its driver unless uffd-wp needs its entries); a partly
            // covered one is split first.
            const bool special_wp = vma.pfnmap() && (cp_flags & kCpUffdWp) != 0;
            if (next - addr == pmd_size && !special_wp) {
                pages += change_huge_pmd(tlb, mm, vma, pmd, addr, cp_flags);
                addr = next;
                continue;
            }
            split_huge_pmd(mm, vma, pmd, addr);
            table = pte_table_of(mm, addr);
        }
        if (table == 0 && populate) table = m_k.tables.pte_alloc(m_k.tables.pmd_alloc(mm, addr));
        if (table != 0) pages += change_pte_range(tlb, mm, vma, table, addr, next, cp_flags);
        addr = next;
    }
    tlb.tlb_end_vma(vma);
    return pages;
}

long MmOps::change_pte_range(MmuGather& tlb, Mm& mm, const Vma& vma, std::uint64_t table, std::uint64_t addr,
                             std::uint64_t end, unsigned cp_flags) {
    const std::uint64_t page = m_k.geo.page_size();
    Pgtable& pt = m_k.pgtable;
    const bool prot_numa = (cp_flags & kCpProtNuma) != 0;
    const bool uffd_wp = (cp_flags & kCpUffdWp) != 0;
    const bool uffd_wp_resolve = (cp_flags & kCpUffdWpResolve) != 0;
    const bool batched = m_k.config.version.at_least(6, 17);
    const Desc newprot = prot_numa ? vm_page_prot(false, false, false, false, false) : vma.page_prot;
    long pages = 0;
    flush_tlb_batched_pending(mm);
    const LazyMmu::State lazy = m_k.lazy.enable();
    while (addr < end) {
        const std::uint64_t ptep = m_k.tables.pte_offset(table, addr);
        unsigned nr = 1;
        const Desc oldpte = pt.ptep_get(ptep);
        if (pte_present(oldpte)) {
            if (prot_numa && pte_protnone(oldpte)) {
                addr += page;
                continue;
            }
            const std::optional<Folio> folio = vm_normal_folio(vma, oldpte);
            if (prot_numa && !folio) {  // the zero page and pfn maps never take hinting faults
                addr += page;
                continue;
            }
            if (batched && folio && folio->order > 0)
                nr = folio_pte_batch(*folio, ptep, oldpte, static_cast<unsigned>((end - addr) / page),
                                     kFpbRespectWrite);
            const Desc old = pt.modify_prot_start_ptes(mm, addr, ptep, nr);
            Desc ptent = pte_modify(old, newprot);
            if (uffd_wp) ptent = pte_mkuffd_wp(ptent);
            else if (uffd_wp_resolve) ptent = pte_clear_uffd_wp(ptent);
            // prot_commit_flush_ptes: entries idx.. of the batch, `len` of them, made writable
            // or not, committed with one modify_prot_commit_ptes and gathered if they changed.
            const auto commit = [&](unsigned idx, unsigned len, bool set_write) {
                const std::uint64_t a = addr + std::uint64_t{idx} * page;
                const Desc o = pt.pfn_pte(pt.pte_pfn(old) + idx, old);
                Desc t = pt.pfn_pte(pt.pte_pfn(ptent) + idx, ptent);
                if (set_write) t = arch::desc_mkwrite(t);
                pt.modify_prot_commit_ptes(mm, a, ptep + 8 * std::uint64_t{idx}, t, len);
                if (pte_needs_flush(o, t)) tlb.tlb_flush_pte_range(a, std::uint64_t{len} * page);
            };
            // Avoid the write fault where the page could be written anyway
            // (set_write_prot_commit_flush_ptes): dirty pages of a shared mapping, and
            // PageAnonExclusive pages of a private one (can_change_pte_writable). A batch of
            // an anonymous large folio is committed in runs of pages of one exclusive state
            // (commit_anon_folio_batch, v6.17), each its own set_ptes.
            if ((cp_flags & kCpTryChangeWritable) != 0 && !arch::desc_write(ptent) && !pte_uffd_wp(ptent) &&
                arch::desc_valid(ptent)) {
                if (vma.flags.shared) {
                    commit(0, nr, arch::desc_dirty(ptent));
                } else if (!vma.flags.write || !folio || !m_k.rmap.info(folio->head_pfn).anon) {
                    commit(0, nr, false);
                } else {
                    const std::uint64_t pfn = pt.pte_pfn(ptent);
                    for (unsigned i = 0; i < nr;) {
                        const bool exclusive = m_k.rmap.anon_exclusive(pfn + i);
                        unsigned len = 1;
                        while (i + len < nr && m_k.rmap.anon_exclusive(pfn + i + len) == exclusive) ++len;
                        commit(i, len, exclusive);
                        i += len;
                    }
                }
            } else {
                commit(0, nr, false);
            }
            pages += nr;
        } else if (pte_none(oldpte)) {
            // Only uffd-wp touches none entries: a marker keeps the protection.
            if (uffd_wp && vma.uffd_wp_use_markers(mm.uffd_wp_unpopulated)) {
                pt.set_pte_at(mm, addr, ptep, pte_bits::kMarkerUffdWp);
                ++m_k.stats.uffd_markers_installed;
                ++pages;
            }
        } else if (is_swap_entry(oldpte)) {
            // A swap entry keeps its slot; only uffd-wp changes it (pte_swp_mkuffd_wp /
            // pte_swp_clear_uffd_wp), written when it differs.
            Desc newpte = oldpte;
            if (uffd_wp) newpte = pte_swp_mkuffd_wp(newpte);
            else if (uffd_wp_resolve) newpte = pte_swp_clear_uffd_wp(newpte);
            if (newpte != oldpte) {
                pt.set_pte_at(mm, addr, ptep, newpte);
                ++pages;
            }
        } else if (pte_marker_uffd_wp(oldpte)) {
            if (uffd_wp_resolve) {
                pt.pte_clear(mm, addr, ptep);
                ++pages;
            }
        }
        addr += std::uint64_t{nr} * page;
    }
    m_k.lazy.disable(lazy);
    return pages;
}

}  // namespace mmusim::kernel
