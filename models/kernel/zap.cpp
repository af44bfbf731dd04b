// munmap and the zap engine (mm/memory.c zap_pte_range, mm/vma.c unmap_region, exit_mmap):
// entries are cleared in folio batches, the cleared range and the unmapped pages go to the
// mmu_gather (which frees the pages after its flush), page tables no VMA needs any more are
// freed (spec/kernel.md §6.6).
#include <vector>

#include "models/kernel/mm_ops.h"
#include "models/kernel/pte.h"

namespace mmusim::kernel {

int MmOps::munmap(Mm& mm, std::uint64_t addr, std::uint64_t len) {
    if (!aligned(addr)) return -err::kEinval;
    len = page_align(len);
    if (len == 0 || addr + len > arch::kUserVaEnd || addr + len < addr) return -err::kEinval;
    const std::uint64_t end = addr + len;
    split_vma_at(mm, addr);
    split_vma_at(mm, end);
    std::vector<Vma> victims;
    for (auto it = mm.vmas.lower_bound(addr); it != mm.vmas.end() && it->second.start < end; ++it)
        victims.push_back(it->second);
    if (victims.empty()) return 0;  // nothing mapped there: success, as in Linux

    MmuGather tlb = make_gather(mm, false);
    for (const Vma& vma : victims) unmap_page_range(tlb, mm, vma, vma.start, vma.end, ZapDetails{true});
    for (const Vma& vma : victims) mm.vmas.erase(vma.start);
    free_pgtables(tlb, mm, addr, end);
    tlb.tlb_finish_mmu();
    return 0;
}

void MmOps::unmap_page_range(MmuGather& tlb, Mm& mm, const Vma& vma, std::uint64_t start, std::uint64_t end,
                             const ZapDetails& details) {
    tlb.tlb_start_vma(vma);
    const std::uint64_t pmd_size = m_k.geo.pmd_size();
    std::uint64_t addr = start;
    while (addr < end) {
        const std::uint64_t next = m_k.geo.pmd_addr_end(addr, end);
        std::uint64_t pmd = 0;
        Desc pmdval = 0;
        std::uint64_t table = pte_table_of(mm, addr, &pmd, &pmdval);
        if (table == 0 && pmd_leaf(pmdval)) {
            // zap_pmd_range: a leaf wholly inside the range goes at once; a partly covered
            // one is split and its PTEs zapped.
            if (next - addr == pmd_size) {
                zap_huge_pmd(tlb, mm, vma, pmd, addr);
            } else {
                split_huge_pmd(mm, vma, pmd, addr);
                table = pte_table_of(mm, addr);
            }
        }
        if (table != 0) zap_pte_range(tlb, mm, vma, table, addr, next, details);
        addr = next;
    }
    tlb.tlb_end_vma(vma);
}

void MmOps::zap_pte_range(MmuGather& tlb, Mm& mm, const Vma& vma, std::uint64_t table, std::uint64_t addr,
                          std::uint64_t end, const ZapDetails& details) {
    // mm/memory.c zap_pte_range, the same in every modelled version (v6.9 comes back through
    // zap_pmd_range's "pmd--" retry, the current tree through its own "goto retry"). Pages
    // are not freed here: they go to the gather and are freed after the TLB flush.
    const std::uint64_t page = m_k.geo.page_size();
    Pgtable& pt = m_k.pgtable;
    bool force_flush = false, force_break = false;
    for (;;) {
        // pte_offset_map_lock ... lazy_mmu_mode_enable (arch_enter_lazy_mmu_mode before the
        // generic layer).
        flush_tlb_batched_pending(mm);
        const LazyMmu::State lazy = m_k.lazy.enable();
        while (addr < end) {
            const std::uint64_t ptep = m_k.tables.pte_offset(table, addr);
            const Desc pte = pt.ptep_get(ptep);
            unsigned nr = 1;
            if (pte_none(pte)) {
                addr += page;
                continue;
            }
            if (pte_present(pte)) {
                // zap_present_ptes.
                const std::optional<Folio> folio = vm_normal_folio(vma, pte);
                Desc ptent = pte;
                if (!folio) {
                    // Special entries (pfn maps, the zero page) have no folio: one at a time,
                    // nothing to free.
                    ptent = pt.get_and_clear_full_ptes(mm, addr, ptep, 1);
                    tlb.tlb_flush_pte_range(addr, page);  // tlb_remove_tlb_entry
                    zap_install_uffd_wp_if_needed(mm, vma, addr, ptep, 1, ptent, details);
                    addr += page;
                    continue;
                }
                // zap_present_folio_ptes.
                const unsigned max_nr = static_cast<unsigned>((end - addr) / page);
                if (folio->order > 0) nr = folio_pte_batch(*folio, ptep, pte, max_nr, 0);
                Rmap::Info* info = m_k.rmap.find(folio->head_pfn) != nullptr ? &m_k.rmap.info(folio->head_pfn) : nullptr;
                bool delay_rmap = false;
                if (info != nullptr && info->anon) {
                    // Anonymous folios need no A/D.
                    pt.clear_full_ptes(mm, addr, ptep, nr);
                } else {
                    // File folios (shmem too: !folio_test_anon) are dirtied from the cleared
                    // entries. A dirty one keeps its rmap until the TLB is flushed, which
                    // must then happen before the PTE lock is dropped: tlb_delay_rmap sets
                    // force_flush.
                    ptent = pt.get_and_clear_full_ptes(mm, addr, ptep, nr);
                    if (arch::desc_dirty(ptent)) {
                        if (info != nullptr) info->dirty = true;  // folio_mark_dirty
                        if (tlb.tlb_delay_rmap()) {
                            delay_rmap = true;
                            force_flush = true;
                        }
                    }
                }
                tlb.tlb_flush_pte_range(addr, std::uint64_t{nr} * page);  // tlb_remove_tlb_entries
                zap_install_uffd_wp_if_needed(mm, vma, addr, ptep, nr, ptent, details);
                const std::uint64_t pfn = arch::desc_pfn(pte, m_k.geo.page_shift);
                if (!delay_rmap) m_pages.folio_remove_rmap_ptes(pfn, mm.id, nr);
                if (tlb.__tlb_remove_folio_pages(pfn, nr, delay_rmap)) {
                    // No batch space left: flush and free now, then come back for the rest.
                    force_flush = true;
                    force_break = true;
                }
                addr += std::uint64_t{nr} * page;
                if (force_break) break;
                continue;
            }
            if (is_swap_entry(pte)) {
                // zap_nonpresent_ptes: each swap entry gives back its slot reference
                // (free_swap_and_cache_nr) and is cleared (clear_not_present_full_ptes). From
                // v6.10 a run of them is one batch ("mm: swap: free_swap_and_cache_nr() as
                // batched free_swap_and_cache()"); the same entries either way.
                const unsigned max_nr = static_cast<unsigned>((end - addr) / page);
                if (m_k.config.version.at_least(6, 10)) nr = swap_pte_batch(ptep, max_nr, pte);
                free_swap_and_cache_nr(pte, nr);
                for (unsigned i = 0; i < nr; ++i) pt.pte_clear(mm, addr + i * page, ptep + 8 * std::uint64_t{i});
                addr += std::uint64_t{nr} * page;
                continue;
            }
            if (pte_marker_uffd_wp(pte)) {
                // Markers survive DONTNEED on file-backed memory; munmap and anonymous VMAs
                // drop them.
                if (details.drop_markers || vma.anonymous()) pt.pte_clear(mm, addr, ptep);
            }
            addr += page;
        }
        m_k.lazy.disable(lazy);
        // "Do the actual TLB flush before dropping ptl": the rmaps of dirty file folios are
        // removed only once no TLB can still write to them through this mm.
        if (force_flush) {
            ++m_k.stats.gather_forced_flushes;
            tlb.tlb_flush_mmu_tlbonly();
            tlb.tlb_flush_rmaps();
        }
        // pte_unmap_unlock; then the batched pages are freed too.
        if (force_flush) tlb.tlb_flush_mmu();
        if (addr >= end) return;
        force_flush = false;
        force_break = false;
    }
}

void MmOps::zap_install_uffd_wp_if_needed(Mm& mm, const Vma& vma, std::uint64_t addr, std::uint64_t ptep,
                                          unsigned nr, Desc ptent, const ZapDetails& details) {
    // File-backed memory still registered for uffd-wp keeps its protection as markers,
    // unless the zap drops markers (munmap, exit); anonymous memory never keeps them.
    if (details.drop_markers || vma.anonymous() || !vma.flags.uffd_wp || !pte_uffd_wp(ptent)) return;
    const std::uint64_t page = m_k.geo.page_size();
    for (unsigned i = 0; i < nr; ++i) m_k.pgtable.set_pte_at(mm, addr + i * page, ptep + 8 * i, pte_bits::kMarkerUffdWp);
    m_k.stats.uffd_markers_installed += nr;
}

void MmOps::free_pgtables(MmuGather& tlb, Mm& mm, std::uint64_t start, std::uint64_t end) {
    const std::uint64_t pmd_size = m_k.geo.pmd_size();
    for (std::uint64_t ps = start & ~(pmd_size - 1); ps < end; ps += pmd_size) {
        const std::uint64_t pe = ps + pmd_size;
        // A PTE table is freed only when no VMA uses any part of its PMD range.
        auto it = mm.vmas.lower_bound(ps);
        bool used = it != mm.vmas.end() && it->second.start < pe;
        if (!used && it != mm.vmas.begin()) used = std::prev(it)->second.end > ps;
        if (used) continue;
        std::uint64_t pmd = 0;
        if (pte_table_of(mm, ps, &pmd) == 0) continue;
        tlb.pte_free_tlb(ps);
        m_k.tables.free_pte_table(pmd);
    }
}

void MmOps::exit_mmap(Mm& mm) {
    MmuGather tlb = make_gather(mm, true);
    for (const auto& [start, vma] : mm.vmas) unmap_page_range(tlb, mm, vma, vma.start, vma.end, ZapDetails{true});
    const bool had_vmas = !mm.vmas.empty();
    mm.vmas.clear();
    // free_pgtables over the whole space: every table goes, so the final flush is by ASID.
    if (had_vmas) tlb.pte_free_tlb(0);
    tlb.tlb_finish_mmu();
    m_k.tables.free_all_tables(mm);
    mm.pgd_pa = 0;
}

}  // namespace mmusim::kernel
