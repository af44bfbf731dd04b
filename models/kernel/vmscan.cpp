// Swap-out through MADV_PAGEOUT (mm/madvise.c madvise_pageout, mm/vmscan.c reclaim_pages and
// shrink_folio_list, mm/rmap.c try_to_unmap_one): the anonymous folios that the calling
// process alone maps in the range are written to the swap device and their entries replaced
// by swap entries.
//
// What changed by version:
// - v6.9: madvise_cold_or_pageout_pte_range splits every large folio it meets (and stops the
//   table at a shared one); only order-0 folios and PMD-sized THPs (THP_SWAP) reach swap.
// - v6.10 ("mm: madvise: avoid split during MADV_PAGEOUT and MADV_COLD" and "mm: swap: allow
//   storage of all mTHP orders", the series "Swap-out mTHP without splitting"): a large folio
//   wholly in the range is isolated whole and written to 2^order contiguous, aligned swap
//   slots; only a partly covered one is split. When no such run of slots is free,
//   shrink_folio_list splits the folio and swaps its pages (swpout_fallback).
// - v6.15 ("mm: support batched unmap for lazyfree large folios during reclamation"):
//   try_to_unmap_one flushes a cleared entry it does not defer with flush_tlb_range
//   (VAE1IS) instead of ptep_clear_flush (VALE1IS). Swap-backed folios are still unmapped one
//   entry at a time in every modelled version (folio_unmap_pte_batch batches only lazyfree
//   folios).
// In every version the cleared entries' TLBIs are deferred (arch_tlbbatch_add_pending: TLBI
// VALE1IS without DSB) unless the CPU has ARM64_WORKAROUND_REPEAT_TLBI; a folio whose
// cleared entries were dirty is flushed (try_to_unmap_flush_dirty: DSB.ISH) before its
// write-out, and the list's end flushes what is left (try_to_unmap_flush).
//
// The swap device is written synchronously (zram, or a disk whose write-out completes before
// the folio is looked at again), so each folio leaves the swap cache and is freed in the same
// pass, as pageout's PAGE_SUCCESS path does for a synchronous write. Lazyfree (MADV_FREE'd)
// folios are not swapped: reclaim discards them, or keeps those written again
// (shrink_lazyfree_folio).
#include <algorithm>

#include "models/common/cycles.h"
#include "models/kernel/kernel_error.h"
#include "models/kernel/mm_ops.h"
#include "models/kernel/pte.h"

namespace mmusim::kernel {

using namespace arch::bits;

// madvise_pageout over [start, end) of one VMA: walk_page_range with
// madvise_cold_or_pageout_pte_range, one PMD range at a time; the folios isolated in a PMD
// range are reclaimed before the next one (reclaim_pages at the end of the callback).
void MmOps::madvise_pageout_page_range(Mm& mm, const Vma& vma, std::uint64_t start, std::uint64_t end) {
    for (std::uint64_t a = start; a < end;) {
        const std::uint64_t next = m_k.geo.pmd_addr_end(a, end);
        std::uint64_t pmd = 0;
        Desc pmdval = 0;
        std::uint64_t table = pte_table_of(mm, a, &pmd, &pmdval);
        std::vector<ReclaimFolio> list;
        if (table == 0 && pmd_leaf(pmdval) && !is_huge_zero_pmd(pmdval) && arch::desc_valid(pmdval)) {
            // The pmd_trans_huge part: a THP others map is left alone; one partly in the
            // range is split (split_folio) and its pages in range go through the PTE walk;
            // a whole one is isolated as it is.
            const std::uint64_t haddr = a & ~(m_k.geo.pmd_size() - 1);
            const std::optional<Folio> folio = m_k.folios.folio_of(arch::desc_pfn(pmdval, m_k.geo.page_shift));
            if (!folio || !m_k.rmap.exclusive_to(folio->head_pfn, mm.id)) {
                a = next;
                continue;
            }
            if (next - a != m_k.geo.pmd_size()) {
                split_folio(mm, vma, 0, *folio, haddr, pmd);
                table = pte_table_of(mm, a);
            } else {
                list.push_back(ReclaimFolio{*folio, haddr, 0, pmd});
                reclaim_pages(mm, vma, list);
                a = next;
                continue;
            }
        }
        if (table != 0) {
            madvise_pageout_pte_range(mm, vma, table, a, next, list);
            reclaim_pages(mm, vma, list);
        }
        a = next;
    }
}

// madvise_cold_or_pageout_pte_range (pageout): nothing in the page table changes here (the
// young bits are cleared only for MADV_COLD); folios are isolated for reclaim.
void MmOps::madvise_pageout_pte_range(Mm& mm, const Vma& vma, std::uint64_t table, std::uint64_t addr,
                                      std::uint64_t end, std::vector<ReclaimFolio>& list) {
    const std::uint64_t page = m_k.geo.page_size();
    const bool whole_folios = m_k.config.version.at_least(6, 10);
    flush_tlb_batched_pending(mm);
    LazyMmu::State lazy = m_k.lazy.enable();
    while (addr < end) {
        const std::uint64_t ptep = m_k.tables.pte_offset(table, addr);
        const Desc pte = m_k.pgtable.ptep_get(ptep);
        unsigned nr = 1;
        const std::optional<Folio> folio = pte_present(pte) ? vm_normal_folio(vma, pte) : std::nullopt;
        if (!folio) {
            addr += page;
            continue;
        }
        const std::uint64_t fstart = addr - (arch::desc_pfn(pte, m_k.geo.page_shift) - folio->head_pfn) * page;
        if (folio->order > 0) {
            const bool shared = !m_k.rmap.exclusive_to(folio->head_pfn, mm.id);
            bool split = true;
            if (!whole_folios) {
                // v6.9: folio_estimated_sharers() != 1 ends the walk of this table.
                if (shared) break;
            } else {
                nr = folio_pte_batch(*folio, ptep, pte, static_cast<unsigned>((end - addr) / page), kFpbRespectWrite);
                split = nr < folio->nr_pages();
                // Not wholly in range and maybe mapped shared (folio_likely_mapped_shared):
                // these entries are skipped.
                if (split && shared) {
                    addr += std::uint64_t{nr} * page;
                    continue;
                }
            }
            if (split) {
                // split_folio with the PTE lock and the lazy section left, then the same
                // entry again, now of an order-0 folio.
                m_k.lazy.disable(lazy);
                split_folio(mm, vma, table, *folio, fstart);
                lazy = m_k.lazy.enable();
                flush_tlb_batched_pending(mm);
                continue;
            }
        }
        // "Do not interfere with other mappings of this folio": folio_mapcount must equal the
        // folio's pages (1 in v6.9, where only order 0 gets here). folio_isolate_lru takes a
        // folio once.
        const Rmap::Info* info = m_k.rmap.find(folio->head_pfn);
        const bool mine = info != nullptr && info->anon && info->total() == folio->nr_pages() &&
                          m_k.rmap.exclusive_to(folio->head_pfn, mm.id);
        const bool queued = std::any_of(list.begin(), list.end(),
                                        [&](const ReclaimFolio& r) { return r.folio.head_pfn == folio->head_pfn; });
        if (mine && !queued) list.push_back(ReclaimFolio{*folio, fstart, table, 0});
        addr += std::uint64_t{nr} * page;
    }
    m_k.lazy.disable(lazy);
}

// reclaim_pages -> reclaim_folio_list -> shrink_folio_list(ignore_references) over the
// isolated folios, in order; then try_to_unmap_flush for the deferred TLBIs left.
void MmOps::reclaim_pages(Mm& mm, const Vma& vma, std::vector<ReclaimFolio>& list) {
    TlbUnmapBatch batch;
    // shrink_folio_list may split a folio onto the list it walks (its pages follow it).
    for (std::size_t i = 0; i < list.size(); ++i) shrink_folio(mm, vma, list, i, batch);
    try_to_unmap_flush(mm, batch);
}

void MmOps::set_tlb_ubc_flush_pending(Mm& mm, Desc pteval, std::uint64_t addr, TlbUnmapBatch& batch) {
    if (!arch::desc_valid(pteval)) return;  // !pte_accessible
    m_k.flush.flush_tlb_page_nosync(mm, addr);  // arch_tlbbatch_add_pending
    batch.flush_required = true;
    if (arch::desc_dirty(pteval)) batch.writable = true;
    mm.tlb_flush_batched = true;
}

Desc MmOps::clear_and_flush_deferred(Mm& mm, std::uint64_t addr, std::uint64_t ptep, TlbUnmapBatch& batch) {
    if (!m_k.flush.arch_tlbbatch_should_defer()) return m_k.pgtable.ptep_clear_flush(mm, addr, ptep);
    const Desc old = m_k.pgtable.ptep_get_and_clear(mm, addr, ptep);
    set_tlb_ubc_flush_pending(mm, old, addr, batch);
    return old;
}

void MmOps::try_to_unmap_flush(Mm& /*mm*/, TlbUnmapBatch& batch) {
    // arch_tlbbatch_flush: one DSB.ISH completes every TLBI issued by arch_tlbbatch_add_pending.
    if (batch.flush_required) m_k.flush.barrier(Barrier::DsbIsh);
    batch.flush_required = false;
    batch.writable = false;
}

void MmOps::shrink_folio(Mm& mm, const Vma& vma, std::vector<ReclaimFolio>& list, std::size_t index,
                         TlbUnmapBatch& batch) {
    ReclaimFolio r = list[index];
    const Folio folio = r.folio;
    Rmap::Info& info = m_k.rmap.info(folio.head_pfn);
    const unsigned pmd_order = m_k.geo.pmd_order();
    // "Lazyfree folio could be freed directly": no swap space for it (folio_test_swapbacked).
    if (info.lazyfree) {
        shrink_lazyfree_folio(mm, vma, list[index], batch);
        return;
    }
    if (!info.swapcache) {
        if (!m_k.swap.enabled()) {
            ++m_k.stats.swap_full;  // no swap: anonymous memory stays (activate_locked)
            return;
        }
        // Before v6.10 only order 0 and PMD-sized folios have swap slots of their size.
        bool can_swap_whole = folio.order == 0 || folio.order == pmd_order || m_k.config.version.at_least(6, 10);
        std::optional<std::uint64_t> slot = can_swap_whole ? m_k.swap.alloc(folio.order) : std::nullopt;
        if (!slot) {
            if (folio.order == 0) {
                ++m_k.stats.swap_full;
                return;
            }
            // "Fallback to swap normal pages": split_folio_to_list, the pages follow on the list.
            ++m_k.stats.swap_out_fallback;
            split_reclaim_folio(mm, vma, r);
            for (std::uint64_t i = 0; i < folio.nr_pages(); ++i)
                list.insert(list.begin() + static_cast<std::ptrdiff_t>(index + 1 + i),
                            ReclaimFolio{Folio{folio.head_pfn + i, 0}, r.fstart + i * m_k.geo.page_size(), r.table, 0});
            return;
        }
        // add_to_swap: the folio enters the swap cache, dirty (it must be written).
        info.swapcache = true;
        info.swap_offset = *slot;
        info.dirty = true;
    }
    // try_to_unmap(TTU_BATCH_FLUSH, | TTU_SPLIT_HUGE_PMD for a THP, | TTU_SYNC for a large folio).
    if (r.pmd_entry != 0) {
        split_huge_pmd(mm, vma, r.pmd_entry, r.fstart);
        r.table = pte_table_of(mm, r.fstart);
        r.pmd_entry = 0;
    }
    try_to_unmap_one(mm, r, batch);
    // Dirty: try_to_unmap_flush_dirty, then pageout (swap_writepage) writes the whole folio.
    if (info.dirty) {
        if (batch.writable) try_to_unmap_flush(mm, batch);
        m_k.delay += cycles_to_time(m_k.config.costs.swap_out_per_4k * ((folio.nr_pages() << m_k.geo.page_shift) >> 12));
        m_k.stats.swap_pages_out += folio.nr_pages();
        ++m_k.stats.swap_out_by_size[m_k.geo.page_size() << folio.order];
        info.dirty = false;
    }
    // __remove_mapping: out of the swap cache (put_swap_folio), then freed.
    m_k.swap.cache_remove(info.swap_offset, folio.nr_pages());
    info.swapcache = false;
    m_pages.free(folio);
}

// The split of shrink_folio_list's fallback (split_folio_to_list): the folio this process
// maps in one PTE table becomes order-0 folios, mapped as before.
void MmOps::split_reclaim_folio(Mm& mm, const Vma& vma, ReclaimFolio& r) {
    if (r.pmd_entry != 0) {
        split_folio(mm, vma, 0, r.folio, r.fstart, r.pmd_entry);
        r.table = pte_table_of(mm, r.fstart);
        r.pmd_entry = 0;
        return;
    }
    split_folio(mm, vma, r.table, r.folio, r.fstart);
}

// try_to_unmap_one over the folio's entries (page_vma_mapped_walk, one entry at a time for a
// swap-backed folio): each entry is cleared (ptep_get_and_clear: the first clear of a folded
// block unfolds it), its TLBI deferred (set_tlb_ubc_flush_pending -> arch_tlbbatch_add_pending)
// or, on REPEAT_TLBI CPUs, done at once; the folio is dirtied from a dirty entry; the page
// gives up PageAnonExclusive, which the swap entry keeps (PTE_SWP_EXCLUSIVE), with uffd-wp.
void MmOps::try_to_unmap_one(Mm& mm, ReclaimFolio& r, TlbUnmapBatch& batch) {
    const std::uint64_t page = m_k.geo.page_size();
    const bool defer = m_k.flush.arch_tlbbatch_should_defer();
    Rmap::Info& info = m_k.rmap.info(r.folio.head_pfn);
    for (std::uint64_t i = 0; i < r.folio.nr_pages(); ++i) {
        const std::uint64_t addr = r.fstart + i * page;
        const std::uint64_t pfn = r.folio.head_pfn + i;
        const Vma* v = mm.find_vma(addr);
        if (v == nullptr || !v->anonymous()) continue;
        const std::uint64_t ptep = m_k.tables.pte_offset(r.table, addr);
        const Desc cur = m_k.pgtable.ptep_get(ptep);  // check_pte
        if (!pte_present(cur) || arch::desc_pfn(cur, m_k.geo.page_shift) != pfn) continue;
        Desc old = 0;
        if (defer) {
            old = clear_and_flush_deferred(mm, addr, ptep, batch);
        } else if (m_k.config.version.at_least(6, 15)) {
            old = m_k.pgtable.ptep_get_and_clear(mm, addr, ptep);  // get_and_clear_ptes(nr = 1)
            if (arch::desc_valid(old)) m_k.flush.flush_tlb_range(mm, addr, addr + page, page, false, 0);
        } else {
            old = m_k.pgtable.ptep_clear_flush(mm, addr, ptep);
        }
        if (arch::desc_dirty(old)) info.dirty = true;  // folio_mark_dirty
        // swap_duplicate, then folio_try_share_anon_rmap_pte (no pins: it never fails).
        const std::uint64_t offset = info.swap_offset + i;
        m_k.swap.dup(offset);
        const bool anon_exclusive = m_k.rmap.anon_exclusive(pfn);
        if (anon_exclusive) m_k.rmap.clear_anon_exclusive(pfn, 1);
        Desc swp = swp_entry_to_pte(offset);
        if (anon_exclusive) swp = pte_swp_mkexclusive(swp);
        if (pte_uffd_wp(old)) swp = pte_swp_mkuffd_wp(swp);
        m_k.pgtable.set_pte_at(mm, addr, ptep, swp);
        m_k.rmap.remove(r.folio.head_pfn, mm.id, 1);  // folio_remove_rmap_pte
    }
    const Rmap::Info* left = m_k.rmap.find(r.folio.head_pfn);
    if (left != nullptr && left->total() != 0)
        throw KernelError("swap-out left " + std::to_string(left->total()) + " mappings of the folio at PFN " +
                          std::to_string(r.folio.head_pfn) + " it isolated as mapped by the calling process alone (a model error)");
}

// A lazyfree folio in shrink_folio_list (mm/vmscan.c) and try_to_unmap_one (mm/rmap.c, the
// "MADV_FREE page check"), as in v6.12: no swap slot is allocated; each entry is cleared (the
// first clear of a folded block unfolds it, gathering the block's dirty bits into every entry)
// and, while the folio is clean (PG_dirty, set from a dirty entry: folio_mark_dirty), left
// none and dropped from the rmap (goto discard). The first dirty entry (the folio was written
// after MADV_FREE) is put back with set_pte_at, the folio becomes swap-backed again
// (folio_set_swapbacked) and the walk stops (walk_abort): the folio stays mapped and is
// activated, and a later reclaim swaps it. A folio left with no mapping is freed (PGLAZYFREED).
// A PMD-mapped folio is discarded whole from v6.11 (unmap_huge_pmd_locked ->
// __discard_anon_folio_pmd_locked, "mm/vmscan: avoid split lazyfree THP during
// shrink_folio_list()") when neither the folio nor the PMD is dirty; otherwise, and before
// v6.11, TTU_SPLIT_HUGE_PMD splits the PMD and its entries go as above. From v6.15 ("mm:
// support batched unmap for lazyfree large folios during reclamation"; folio_unmap_pte_batch
// as "mm/rmap: fix potential out-of-bounds page table access during batched unmap" left it) a
// run of a large folio's entries within one PTE table and VMA is cleared in one batch
// (get_and_clear_full_ptes, one ranged flush) and put back with one set_ptes.
void MmOps::shrink_lazyfree_folio(Mm& mm, const Vma& vma, ReclaimFolio& r, TlbUnmapBatch& batch) {
    const Folio folio = r.folio;
    const std::uint64_t page = m_k.geo.page_size();
    Rmap::Info& info = m_k.rmap.info(folio.head_pfn);
    if (r.pmd_entry != 0) {
        const Desc pmd = m_k.tables.pmd_read(r.pmd_entry);
        if (m_k.config.version.at_least(6, 11) && !info.dirty && !arch::desc_dirty(pmd)) {
            // pmdp_huge_clear_flush, folio_remove_rmap_pmd, zap_deposited_table, folio_put.
            (void)m_k.tables.pmdp_huge_get_and_clear(r.pmd_entry);
            flush_pmd_tlb_range(mm, r.fstart);
            m_pages.folio_remove_rmap_ptes(folio.head_pfn, mm.id, folio.nr_pages());
            const auto it = mm.deposited.find(r.fstart);
            if (it != mm.deposited.end()) {
                m_k.tables.pte_free(it->second);
                mm.deposited.erase(it);
            }
            m_k.stats.lazyfreed += folio.nr_pages();
            m_pages.free(folio);
            return;
        }
        split_huge_pmd(mm, vma, r.pmd_entry, r.fstart);
        r.table = pte_table_of(mm, r.fstart);
        r.pmd_entry = 0;
    }
    const bool defer = m_k.flush.arch_tlbbatch_should_defer();
    const bool batched = m_k.config.version.at_least(6, 15);
    for (std::uint64_t i = 0; i < folio.nr_pages();) {
        const std::uint64_t addr = r.fstart + i * page;
        const std::uint64_t pfn = folio.head_pfn + i;
        const Vma* v = mm.find_vma(addr);
        const std::uint64_t ptep = m_k.tables.pte_offset(r.table, addr);
        const Desc cur = v != nullptr && v->anonymous() ? m_k.pgtable.ptep_get(ptep) : 0;  // check_pte
        if (!pte_present(cur) || arch::desc_pfn(cur, m_k.geo.page_shift) != pfn) {
            ++i;
            continue;
        }
        unsigned nr = 1;
        if (batched && folio.order > 0) {
            // folio_unmap_pte_batch: the run of the folio's entries from this one, within one
            // page table and the VMA (folio_pte_batch, dirty ignored).
            const std::uint64_t end = m_k.geo.pmd_addr_end(addr, v->end);
            nr = folio_pte_batch(folio, ptep, cur, static_cast<unsigned>((end - addr) / page), 0);
        }
        Desc old = 0;
        if (nr > 1) {
            old = m_k.pgtable.get_and_clear_full_ptes(mm, addr, ptep, nr);
            const std::uint64_t end = addr + std::uint64_t{nr} * page;
            if (defer) {
                // set_tlb_ubc_flush_pending over the range: arch_tlbbatch_add_pending ->
                // __flush_tlb_range_nosync(start, end, PAGE_SIZE, last level, level 3).
                if (arch::desc_valid(old)) {
                    m_k.flush.flush_tlb_range(mm, addr, end, page, TlbFlush::RangeFlags{true, 3, false, false});
                    batch.flush_required = true;
                    if (arch::desc_dirty(old)) batch.writable = true;
                    mm.tlb_flush_batched = true;
                }
            } else if (arch::desc_valid(old)) {
                m_k.flush.flush_tlb_range(mm, addr, end, page, false, 0);
            }
        } else if (defer) {
            old = clear_and_flush_deferred(mm, addr, ptep, batch);
        } else if (batched) {
            old = m_k.pgtable.ptep_get_and_clear(mm, addr, ptep);
            if (arch::desc_valid(old)) m_k.flush.flush_tlb_range(mm, addr, addr + page, page, false, 0);
        } else {
            old = m_k.pgtable.ptep_clear_flush(mm, addr, ptep);
        }
        if (arch::desc_dirty(old)) info.dirty = true;  // folio_mark_dirty
        if (info.dirty) {
            // Written again since MADV_FREE: remapped, swap-backed again, walk_abort.
            m_k.pgtable.set_ptes(mm, addr, ptep, old, nr);
            info.lazyfree = false;
            m_k.stats.lazyfree_kept += folio.nr_pages();
            return;
        }
        m_k.rmap.remove(folio.head_pfn, mm.id, nr);  // discard: folio_remove_rmap_ptes
        i += nr;
    }
    const Rmap::Info* left = m_k.rmap.find(folio.head_pfn);
    if (left != nullptr && left->total() != 0) return;  // mapped elsewhere too: activate_locked
    m_k.stats.lazyfreed += folio.nr_pages();
    m_pages.free(folio);
}

}  // namespace mmusim::kernel
