// madvise (mm/madvise.c): DONTNEED zaps with one gather for the whole call, FREE clears
// access/dirty state of whole folios without unfolding (from v6.10; v6.9 splits every large
// folio first) and splits partly covered ones, and the flag advices only change VMAs
// (spec/kernel.md §6.7).
#include <algorithm>
#include <vector>

#include "models/kernel/kernel_error.h"
#include "models/kernel/mm_ops.h"
#include "models/kernel/pte.h"

namespace mmusim::kernel {

// madvise_free_single_vma: lazy freeing of [start, end) of one VMA, PMD range by PMD range.
void MmOps::madvise_free_single_vma(MmuGather& tlb, Mm& mm, const Vma& vma, std::uint64_t start, std::uint64_t end) {
    tlb.tlb_start_vma(vma);
    for (std::uint64_t a = start; a < end;) {
        const std::uint64_t next = m_k.geo.pmd_addr_end(a, end);
        std::uint64_t pmd = 0;
        Desc pmdval = 0;
        std::uint64_t table = pte_table_of(mm, a, &pmd, &pmdval);
        if (table == 0 && pmd_leaf(pmdval)) {
            // madvise_free_huge_pmd: a THP wholly inside the range is freed lazily as one; a
            // shared one is left alone; a partly covered one is split (split_folio splits
            // the PMD first, TTU_SPLIT_HUGE_PMD) and its pages in range go through the PTE
            // walk below.
            const std::uint64_t haddr = a & ~(m_k.geo.pmd_size() - 1);
            const Desc leaf = m_k.tables.pmd_read(pmd);
            if (next - a == m_k.geo.pmd_size() || is_huge_zero_pmd(leaf) ||
                !m_k.rmap.exclusive_to(arch::desc_pfn(leaf, m_k.geo.page_shift), mm.id)) {
                madvise_free_huge_pmd(tlb, mm, pmd, haddr);
                a = next;
                continue;
            }
            const std::optional<Folio> folio = m_k.folios.folio_of(arch::desc_pfn(leaf, m_k.geo.page_shift));
            if (folio) split_folio(mm, vma, 0, *folio, haddr, pmd);
            table = pte_table_of(mm, a);
        }
        if (table != 0) madvise_free_pte_range(tlb, mm, vma, table, a, next);
        a = next;
    }
    tlb.tlb_end_vma(vma);
}

void MmOps::split_folio(Mm& mm, const Vma& vma, std::uint64_t table, const Folio& folio, std::uint64_t fstart,
                        std::uint64_t pmd_entry) {
    const std::uint64_t page = m_k.geo.page_size();
    struct Unmapped {
        std::uint64_t addr;
        Desc pte;  // the entry the migration entry stands for
    };
    std::vector<Unmapped> unmapped;
    Rmap::Info& info = m_k.rmap.info(folio.head_pfn);
    TlbUnmapBatch batch;
    if (pmd_entry != 0) {
        // A PMD-mapped folio: TTU_SPLIT_HUGE_PMD splits the PMD frozen (__split_huge_pmd_locked
        // with freeze): the leaf is invalidated and flushed at once, and every page gets a
        // migration entry (set_pte_at each) carrying the PMD's young/dirty/write state; a
        // dirty PMD marks the folio dirty.
        const Desc old = pmdp_invalidate(mm, pmd_entry, fstart);
        table = withdraw_table(mm, fstart);
        ++m_k.stats.huge_pmd_splits;
        if (arch::desc_dirty(old)) info.dirty = true;
        Desc pte = arch::desc_with_pfn(vma.page_prot, folio.head_pfn, m_k.geo.page_shift);
        if (arch::desc_write(old)) pte = arch::desc_mkwrite(pte);
        if (!arch::desc_young(old)) pte = arch::desc_mkold(pte);
        if (arch::desc_dirty(old)) pte = arch::desc_mkdirty(pte);
        if (pte_uffd_wp(old)) pte = pte_mkuffd_wp(pte);
        for (std::uint64_t i = 0; i < folio.nr_pages(); ++i) {
            const std::uint64_t addr = fstart + i * page;
            m_k.pgtable.set_pte_at(mm, addr, m_k.tables.pte_offset(table, addr), make_migration_entry(folio.head_pfn + i));
            unmapped.push_back({addr, arch::desc_with_pfn(pte, folio.head_pfn + i, m_k.geo.page_shift)});
        }
        m_k.tables.pmd_populate(pmd_entry, table);
    } else {
        const std::uint64_t pmd_start = fstart & ~(m_k.geo.pmd_size() - 1);
        const std::uint64_t lo = std::max(vma.start, pmd_start);
        const std::uint64_t hi = std::min(vma.end, pmd_start + m_k.geo.pmd_size());
        // unmap_folio: try_to_migrate(TTU_SPLIT_HUGE_PMD | TTU_SYNC | TTU_BATCH_FLUSH), one
        // try_to_migrate_one per mapped page. arm64's arch_tlbbatch_should_defer defers the
        // flush (a nosync page TLBI per entry, then try_to_unmap_flush: one DSB.ISH) unless
        // ARM64_WORKAROUND_REPEAT_TLBI, where each entry is cleared with ptep_clear_flush.
        for (std::uint64_t i = 0; i < folio.nr_pages(); ++i) {
            const std::uint64_t addr = fstart + i * page;
            if (addr < lo || addr >= hi) continue;
            const std::uint64_t ptep = m_k.tables.pte_offset(table, addr);
            const Desc cur = m_k.pgtable.ptep_get(ptep);  // page_vma_mapped_walk's check_pte
            if (!pte_present(cur) || arch::desc_pfn(cur, m_k.geo.page_shift) != folio.head_pfn + i) continue;
            const Desc old = clear_and_flush_deferred(mm, addr, ptep, batch);
            if (arch::desc_dirty(old)) info.dirty = true;  // folio_mark_dirty
            m_k.pgtable.set_pte_at(mm, addr, ptep, make_migration_entry(folio.head_pfn + i));
            unmapped.push_back({addr, old});
        }
    }
    try_to_unmap_flush(mm, batch);  // arch_tlbbatch_flush
    // __split_huge_page: order-0 folios that keep the flags (PG_dirty) and the mappings.
    const Rmap::Info head = info;
    m_k.folios.split(folio);
    for (std::uint64_t i = 0; i < folio.nr_pages(); ++i) {
        Rmap::Info& sub = m_k.rmap.info(folio.head_pfn + i);
        sub = head;
        sub.maps.clear();
        sub.partially_mapped = false;
    }
    ++m_k.stats.folio_splits;
    // remap_page -> remove_migration_pte per page: mk_pte from vm_page_prot, old unless the
    // migration entry was young, dirty if the folio and the entry were, writable if the
    // entry was; one set_pte_at each (order-0 folios: no fold).
    for (const Unmapped& u : unmapped) {
        const std::uint64_t pfn = arch::desc_pfn(u.pte, m_k.geo.page_shift);
        const std::uint64_t ptep = m_k.tables.pte_offset(table, u.addr);
        (void)m_k.pgtable.ptep_get(ptep);  // page_vma_mapped_walk finds the migration entry
        Desc pte = arch::desc_with_pfn(vma.page_prot, pfn, m_k.geo.page_shift);
        if (!arch::desc_young(u.pte)) pte = arch::desc_mkold(pte);
        if (head.dirty && arch::desc_dirty(u.pte)) pte = arch::desc_mkdirty(pte);
        if (arch::desc_write(u.pte)) pte = arch::desc_mkwrite(pte);
        else if (pte_uffd_wp(u.pte)) pte = pte_mkuffd_wp(pte);
        m_k.pgtable.set_pte_at(mm, u.addr, ptep, pte);
        m_k.rmap.add(pfn, mm.id, 1);
    }
}

// madvise_free_pte_range over [addr, end) of one PTE table (the walk's PMD range, already
// clipped to the advised range).
void MmOps::madvise_free_pte_range(MmuGather& tlb, Mm& mm, const Vma& vma, std::uint64_t table, std::uint64_t addr,
                                   std::uint64_t end) {
    const std::uint64_t page = m_k.geo.page_size();
    // v6.10 batched the walk over large folios: 89e86854fb0a "mm/arm64: override
    // clear_young_dirty_ptes() batch helper" and dce7d10be4bb "mm/madvise: optimize
    // lazyfreeing with mTHP in madvise_free". Before, every large folio is split (or the
    // walk of the table stops at a shared one) and each entry is cleaned on its own.
    const bool batched = m_k.config.version.at_least(6, 10);
    flush_tlb_batched_pending(mm);
    LazyMmu::State lazy = m_k.lazy.enable();
    while (addr < end) {
        const std::uint64_t ptep = m_k.tables.pte_offset(table, addr);
        Desc pte = m_k.pgtable.ptep_get(ptep);
        unsigned nr = 1;
        if (is_swap_entry(pte)) {
            // Swapped-out pages are dropped: free_swap_and_cache_nr and
            // clear_not_present_full_ptes, a run of swap entries at once from v6.10.
            if (batched) nr = swap_pte_batch(ptep, static_cast<unsigned>((end - addr) / page), pte);
            free_swap_and_cache_nr(pte, nr);
            for (unsigned i = 0; i < nr; ++i) m_k.pgtable.pte_clear(mm, addr + i * page, ptep + 8 * std::uint64_t{i});
            addr += std::uint64_t{nr} * page;
            continue;
        }
        const std::optional<Folio> folio = pte_present(pte) ? vm_normal_folio(vma, pte) : std::nullopt;
        if (!folio) {
            addr += page;
            continue;
        }
        if (folio->order > 0) {
            const std::uint64_t fstart = addr - (arch::desc_pfn(pte, m_k.geo.page_shift) - folio->head_pfn) * page;
            const bool shared = !m_k.rmap.exclusive_to(folio->head_pfn, mm.id);
            if (!batched) {
                // v6.9: folio_estimated_sharers() != 1 ends the walk of this table (break).
                if (shared) {
                    ++m_k.stats.madvise_free_skipped;
                    break;
                }
            } else {
                Desc merged = pte;
                nr = folio_pte_batch(*folio, ptep, pte, static_cast<unsigned>((end - addr) / page), kFpbMergeYoungDirty,
                                     &merged);
                pte = merged;
                if (nr < folio->nr_pages() && shared) {
                    // Not wholly in range and maybe mapped shared: these entries are skipped.
                    ++m_k.stats.madvise_free_skipped;
                    addr += std::uint64_t{nr} * page;
                    continue;
                }
            }
            if (!batched || nr < folio->nr_pages()) {
                // split_folio with the PTE lock and the lazy section left, then the same
                // entry again, now of an order-0 folio.
                m_k.lazy.disable(lazy);
                split_folio(mm, vma, table, *folio, fstart);
                lazy = m_k.lazy.enable();
                flush_tlb_batched_pending(mm);
                continue;
            }
        }
        Rmap::Info& info = m_k.rmap.info(folio->head_pfn);
        if (info.swapcache || info.dirty) {
            // A folio in the swap cache or dirty (PG_dirty) is left alone when others map it
            // too: folio_mapcount != folio_nr_pages (!= 1 in v6.9); and when it is in the swap
            // cache and a swap entry still references its slots (folio_free_swap fails).
            bool skip = !m_k.rmap.exclusive_to(folio->head_pfn, mm.id);
            for (std::uint64_t i = 0; info.swapcache && !skip && i < folio->nr_pages(); ++i)
                skip = m_k.swap.count(info.swap_offset + i) != 0;
            if (skip) {
                ++m_k.stats.madvise_free_skipped;
                addr += std::uint64_t{nr} * page;
                continue;
            }
            if (info.swapcache) folio_free_swap(folio->head_pfn);
            info.dirty = false;  // folio_clear_dirty
        }
        // A clean folio is cleaned and aged in this process's page table even when another
        // process maps it too (its entries there are left as they are).
        if (arch::desc_young(pte) || arch::desc_dirty(pte)) {
            if (batched) {
                m_k.pgtable.clear_young_dirty_ptes(mm, addr, ptep, nr, kCydpClearYoung | kCydpClearDirty);
                tlb.tlb_flush_pte_range(addr, std::uint64_t{nr} * page);  // tlb_remove_tlb_entries
            } else {
                // v6.9: ptep_get_and_clear_full, pte_mkold, pte_mkclean, set_pte_at,
                // tlb_remove_tlb_entry.
                const Desc old = m_k.pgtable.ptep_get_and_clear(mm, addr, ptep);
                m_k.pgtable.set_pte_at(mm, addr, ptep, arch::desc_mkclean(arch::desc_mkold(old)));
                tlb.tlb_flush_pte_range(addr, page);
            }
        }
        folio_mark_lazyfree(info);
        addr += std::uint64_t{nr} * page;
    }
    m_k.lazy.disable(lazy);
}

// folio_mark_lazyfree (mm/swap.c): an anonymous, swap-backed folio outside the swap cache
// loses PG_swapbacked (lru_lazyfree, when the per-CPU batch drains: before any reclaim of
// MADV_PAGEOUT, which drains first).
void MmOps::folio_mark_lazyfree(Rmap::Info& info) {
    if (info.anon && !info.pagecache && !info.swapcache) info.lazyfree = true;
}

int MmOps::madvise(Mm& mm, std::uint64_t addr, std::uint64_t len, Advice advice) {
    if (!aligned(addr)) return -err::kEinval;
    len = page_align(len);
    if (len == 0) return 0;
    const std::uint64_t end = addr + len;
    if (end <= addr || end > arch::kUserVaEnd) return -err::kEinval;
    const bool hole = !covered(mm, addr, end);
    // Advices valid only for some VMAs (Linux checks each before acting).
    for (const auto& [start, v] : mm.vmas) {
        if (v.end <= addr || v.start >= end) continue;
        if ((advice == Advice::DontNeed || advice == Advice::Free) && v.pfnmap()) return -err::kEinval;
        if (advice == Advice::Free && !v.anonymous()) return -err::kEinval;
    }
    if (advice == Advice::PageOut) {
        // madvise_pageout: can_madv_lru_vma (no VM_PFNMAP here) or EINVAL. Only private
        // anonymous memory is modelled: shmem and file folios leave through other paths
        // (shmem_writeout, the page cache).
        for (const auto& [start, v] : mm.vmas) {
            if (v.end <= addr || v.start >= end) continue;
            if (v.pfnmap()) return -err::kEinval;
            if (!v.anonymous())
                throw KernelError("MADV_PAGEOUT of " + v.name + " at " + hex(v.start) +
                                  ": only private anonymous memory can be paged out in the model (file and shared memory cannot)");
        }
        MmuGather tlb = make_gather(mm, false);
        for (auto it = mm.vmas.begin(); it != mm.vmas.end(); ++it) {
            const Vma& vma = it->second;
            const std::uint64_t s = vma.start > addr ? vma.start : addr;
            const std::uint64_t e = vma.end < end ? vma.end : end;
            if (s < e) madvise_pageout_page_range(mm, vma, s, e);
        }
        tlb.tlb_finish_mmu();
        return hole ? -err::kEnomem : 0;
    }
    if (advice == Advice::Collapse) {
        const int r = madvise_collapse(mm, addr, end);
        return r != 0 ? r : hole ? -err::kEnomem : 0;
    }
    if (advice == Advice::DontNeed || advice == Advice::Free) {
        MmuGather tlb = make_gather(mm, false);
        for (auto it = mm.vmas.begin(); it != mm.vmas.end(); ++it) {
            const Vma& vma = it->second;
            const std::uint64_t s = vma.start > addr ? vma.start : addr;
            const std::uint64_t e = vma.end < end ? vma.end : end;
            if (s >= e) continue;
            if (advice == Advice::DontNeed) {
                unmap_page_range(tlb, mm, vma, s, e, ZapDetails{false});
                continue;
            }
            madvise_free_single_vma(tlb, mm, vma, s, e);
        }
        tlb.tlb_finish_mmu();
        return hole ? -err::kEnomem : 0;
    }
    // Readahead hints and flags the model does not keep: no page table changes (MADV_WILLNEED
    // on anonymous memory only reads swap into the swap cache).
    if (advice >= Advice::WillNeed) return hole ? -err::kEnomem : 0;
    // Flag advices: split the VMAs to the range and set the flag.
    split_vma_at(mm, addr);
    split_vma_at(mm, end);
    for (auto it = mm.vmas.lower_bound(addr); it != mm.vmas.end() && it->second.start < end; ++it) {
        VmFlags& f = it->second.flags;
        switch (advice) {
            case Advice::HugePage: f.hugepage = true; f.nohugepage = false; break;
            case Advice::NoHugePage: f.nohugepage = true; f.hugepage = false; break;
            case Advice::DontFork: f.dontfork = true; break;
            case Advice::DoFork: f.dontfork = false; break;
            case Advice::DontNeed: case Advice::Free: case Advice::Collapse: case Advice::PageOut:
            case Advice::WillNeed: case Advice::Normal: case Advice::Random: case Advice::Sequential:
            case Advice::DontDump: case Advice::DoDump: case Advice::Mergeable: case Advice::Unmergeable:
            case Advice::WipeOnFork: case Advice::KeepOnFork: break;
        }
    }
    merge_vmas(mm, addr, end);
    return hole ? -err::kEnomem : 0;
}

}  // namespace mmusim::kernel
