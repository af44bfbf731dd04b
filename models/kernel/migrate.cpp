// Page migration (mm/migrate.c, mm/rmap.c try_to_migrate, mm/mempolicy.c queue_pages_range):
// every anonymous folio the calling process alone maps in a range moves to a new folio of the
// same order, as migrate_pages(2) or mbind(MPOL_MF_MOVE) do towards another node (the model
// has one node, so the destination is simply a fresh folio).
//
// migrate_pages takes the queued folios in batches of NR_MAX_BATCHED_MIGRATION (HPAGE_PMD_NR)
// pages, the folio that reaches the limit included (42012e0436d4 "migrate_pages: restrict
// number of pages to migrate in batch", v6.3). A MIGRATE_SYNC caller first tries each batch
// with MIGRATE_ASYNC (migrate_pages_sync, from "migrate_pages: try migrate in batch
// asynchronously firstly", v6.3), and migrate_folio_unmap passes TTU_BATCH_FLUSH to
// try_to_migrate in that mode ("migrate_pages: batch flushing TLB", v6.3). So, in every
// modelled version, a batch is: allocate each destination and unmap each source (one
// migration entry per page, the page TLBI deferred: set_tlb_ubc_flush_pending), one
// try_to_unmap_flush, then move each folio (copy, remove_migration_ptes: one set_pte_at per
// page, ascending; the source folio freed). remove_migration_pte is not batched in any
// modelled tree: each page of a large folio is restored with its own set_pte_at, so the
// block's last entry refolds it through the ordinary fold rule.
//
// From v6.10 a partially mapped large folio (on the deferred split queue) is split before it
// would be unmapped, and its pieces migrate as order-0 folios after every batch
// (try_split_folio, migrate_pages_batch's split_folios).
#include <algorithm>
#include <string>

#include "models/common/cycles.h"
#include "models/kernel/kernel_error.h"
#include "models/kernel/mm_ops.h"
#include "models/kernel/pte.h"

namespace mmusim::kernel {

using namespace arch::bits;

int MmOps::migrate(Mm& mm, std::uint64_t addr, std::uint64_t len) {
    if (!aligned(addr)) return -err::kEinval;
    const std::uint64_t end = addr + page_align(len);
    if (end <= addr || end > arch::kUserVaEnd) return -err::kEinval;
    std::vector<MigrateFolio> list;
    queue_pages_range(mm, addr, end, list);
    // migrate_pages: NR_MAX_BATCHED_MIGRATION is HPAGE_PMD_NR, the entries of one PTE table.
    const std::uint64_t limit = m_k.geo.ptrs_per_table();
    std::vector<MigrateFolio> batch;
    std::vector<MigrateFolio> split_folios;
    std::uint64_t pages = 0;
    for (std::size_t i = 0; i < list.size(); ++i) {
        batch.push_back(list[i]);
        pages += list[i].src.nr_pages();
        if (pages >= limit || i + 1 == list.size()) {
            migrate_pages_batch(mm, batch, &split_folios);
            batch.clear();
            pages = 0;
        }
    }
    // migrate_pages: the pieces of the folios split on the way, in one more batch
    // (MIGRATE_ASYNC, no further splitting).
    if (!split_folios.empty()) migrate_pages_batch(mm, split_folios, nullptr);
    return 0;
}

// queue_pages_range with MPOL_MF_MOVE: queue_folios_pmd for a PMD leaf, queue_folios_pte_range
// over PTE tables (one ptep_get per entry, a large folio's run skipped with folio_pte_batch;
// a large folio is queued once, at its first entry in the range). Only private anonymous
// VMAs are walked: the model migrates anonymous memory only (file and shmem folios stay).
void MmOps::queue_pages_range(Mm& mm, std::uint64_t start, std::uint64_t end, std::vector<MigrateFolio>& list) {
    const std::uint64_t page = m_k.geo.page_size();
    for (auto it = mm.vmas.begin(); it != mm.vmas.end(); ++it) {
        const Vma& vma = it->second;
        if (vma.end <= start || vma.start >= end || !vma.anonymous()) continue;
        const std::uint64_t e = std::min(end, vma.end);
        for (std::uint64_t a = std::max(start, vma.start); a < e;) {
            const std::uint64_t next = m_k.geo.pmd_addr_end(a, e);
            std::uint64_t pmd = 0;
            Desc pmdval = 0;
            const std::uint64_t table = pte_table_of(mm, a, &pmd, &pmdval);
            if (table == 0) {
                if (pmd_leaf(pmdval) && !is_huge_zero_pmd(pmdval)) {
                    const std::optional<Folio> folio = m_k.folios.folio_of(arch::desc_pfn(pmdval, m_k.geo.page_shift));
                    if (folio) migrate_folio_add(mm, *folio, a & ~(m_k.geo.pmd_size() - 1), 0, pmd, list);
                }
                a = next;
                continue;
            }
            while (a < next) {
                const std::uint64_t ptep = m_k.tables.pte_offset(table, a);
                const Desc pte = m_k.pgtable.ptep_get(ptep);
                unsigned nr = 1;
                const std::optional<Folio> folio = pte_present(pte) ? vm_normal_folio(vma, pte) : std::nullopt;
                if (folio) {
                    if (folio->order > 0)
                        nr = folio_pte_batch(*folio, ptep, pte, static_cast<unsigned>((next - a) / page), 0);
                    const std::uint64_t fstart = a - (arch::desc_pfn(pte, m_k.geo.page_shift) - folio->head_pfn) * page;
                    migrate_folio_add(mm, *folio, fstart, table, 0, list);
                }
                a += std::uint64_t{nr} * page;
            }
        }
    }
}

// migrate_folio_add: MPOL_MF_MOVE moves a folio only if no other process maps it
// (folio_maybe_mapped_shared, folio_likely_mapped_shared or page_mapcount > 1 by version:
// the model's rmap answers all three alike); a folio already queued is not queued again.
void MmOps::migrate_folio_add(Mm& mm, const Folio& folio, std::uint64_t fstart, std::uint64_t table,
                              std::uint64_t pmd_entry, std::vector<MigrateFolio>& list) {
    for (const MigrateFolio& m : list)
        if (m.src.head_pfn == folio.head_pfn) return;
    if (!m_k.rmap.exclusive_to(folio.head_pfn, mm.id)) {
        ++m_k.stats.migrate_skipped;
        return;
    }
    MigrateFolio m;
    m.src = folio;
    m.fstart = fstart;
    m.table = table;
    m.pmd_entry = pmd_entry;
    list.push_back(m);
}

void MmOps::migrate_pages_batch(Mm& mm, std::vector<MigrateFolio>& batch, std::vector<MigrateFolio>* split_folios) {
    std::vector<MigrateFolio> todo;
    for (MigrateFolio& m : batch)
        if (split_folios == nullptr || !try_split_folio(mm, m, *split_folios)) todo.push_back(m);
    TlbUnmapBatch flush;
    for (MigrateFolio& m : todo) migrate_folio_unmap(mm, m, flush);
    // try_to_unmap_flush -> arch_tlbbatch_flush: the DSB.ISH that completes every deferred
    // TLBI of the batch.
    try_to_unmap_flush(mm, flush);
    for (MigrateFolio& m : todo) migrate_folio_move(mm, m);
}

// migrate_pages_batch ("mm/migrate: split source folio if it is on deferred split list",
// 2024; modelled from v6.10, whether the v6.9 release had it is not checked): a large folio
// of more than two pages on the deferred split queue is split (try_split_folio ->
// split_folio_to_list) instead of migrated, and its pieces go on split_folios. Up to v6.11
// only partially mapped folios are queued; v6.12 queues underused PMD THPs too and so also
// tests folio_test_partially_mapped. A piece nothing maps any more is freed
// (migrate_folio_unmap finds its last reference: "Folio was freed from under us"); the
// others migrate later as order-0 folios. Checked against Linux 6.12.95 by linux-check
// (configs/linux/migrate_partial.json). The model's split_folio remaps the pages the process
// maps in one PTE table at their places from the folio's start; a folio some of whose pages
// mremap moved elsewhere is migrated whole, as before.
bool MmOps::try_split_folio(Mm& mm, const MigrateFolio& m, std::vector<MigrateFolio>& split_folios) {
    if (!m_k.config.version.at_least(6, 10) || m.pmd_entry != 0 || m.src.order < 2) return false;
    const Rmap::Info* info = m_k.rmap.find(m.src.head_pfn);
    if (info == nullptr || !info->partially_mapped) return false;
    const std::uint64_t page = m_k.geo.page_size();
    const Vma* vma = nullptr;
    std::uint64_t found = 0;
    const std::uint64_t pmd_start = m.fstart & ~(m_k.geo.pmd_size() - 1);
    for (std::uint64_t i = 0; i < m.src.nr_pages(); ++i) {
        const std::uint64_t addr = m.fstart + i * page;
        if (addr < pmd_start || addr >= pmd_start + m_k.geo.pmd_size()) continue;
        const Vma* v = mm.find_vma(addr);
        if (v == nullptr || !v->anonymous()) continue;
        const Desc pte = m_k.pgtable.ptep_get(m_k.tables.pte_offset(m.table, addr));
        if (!pte_present(pte) || arch::desc_pfn(pte, m_k.geo.page_shift) != m.src.head_pfn + i) continue;
        if (vma != nullptr && v != vma) return false;
        vma = v;
        ++found;
    }
    if (vma == nullptr || found != info->total()) return false;
    split_folio(mm, *vma, m.table, m.src, m.fstart);
    for (std::uint64_t i = 0; i < m.src.nr_pages(); ++i) {
        const Folio piece{m.src.head_pfn + i, 0};
        const Rmap::Info* p = m_k.rmap.find(piece.head_pfn);
        if (p == nullptr || p->total() == 0) {
            m_pages.free(piece);
            continue;
        }
        MigrateFolio s;
        s.src = piece;
        s.fstart = m.fstart + i * page;
        s.table = m.table;
        split_folios.push_back(s);
    }
    return true;
}

void MmOps::migrate_folio_unmap(Mm& mm, MigrateFolio& m, TlbUnmapBatch& batch) {
    // get_new_folio (alloc_migration_target): a folio of the same order, not zeroed; its
    // pages become PageAnonExclusive only through remove_migration_pte (RMAP_EXCLUSIVE).
    m.dst = m_pages.alloc(m.src.order, false, true);
    m_k.rmap.clear_anon_exclusive(m.dst.head_pfn, m.dst.nr_pages());
    if (m.pmd_entry != 0) set_pmd_migration_entry(mm, m);
    else try_to_migrate_one(mm, m, batch);
}

// try_to_migrate_one over the pages of the folio this process maps (page_vma_mapped_walk
// finds each with ptep_get): the entry is cleared (a folded block is unfolded by the first
// clear, per the arm64 rules of ptep_get_and_clear), its TLBI deferred when
// should_defer_flush(mm, TTU_BATCH_FLUSH) allows (arm64 arch_tlbbatch_should_defer: not on
// ARM64_WORKAROUND_REPEAT_TLBI CPUs, which clear with ptep_clear_flush), and a migration
// entry written with set_pte_at that keeps the write permission, PageAnonExclusive
// (writable / readable-exclusive / readable), young, dirty and uffd-wp.
void MmOps::try_to_migrate_one(Mm& mm, MigrateFolio& m, TlbUnmapBatch& batch) {
    const std::uint64_t page = m_k.geo.page_size();
    Rmap::Info& info = m_k.rmap.info(m.src.head_pfn);
    for (std::uint64_t i = 0; i < m.src.nr_pages(); ++i) {
        const std::uint64_t addr = m.fstart + i * page;
        const std::uint64_t pfn = m.src.head_pfn + i;
        const Vma* vma = mm.find_vma(addr);
        if (vma == nullptr || !vma->anonymous()) continue;
        const std::uint64_t ptep = m_k.tables.pte_offset(m.table, addr);
        const Desc cur = m_k.pgtable.ptep_get(ptep);  // check_pte
        if (!pte_present(cur) || arch::desc_pfn(cur, m_k.geo.page_shift) != pfn) continue;
        const Desc old = clear_and_flush_deferred(mm, addr, ptep, batch);
        if (arch::desc_dirty(old)) info.dirty = true;  // folio_mark_dirty
        // folio_try_share_anon_rmap_pte: the source page gives up PageAnonExclusive; the
        // migration entry carries it (pinned pages are not modelled, so it never fails).
        const bool anon_exclusive = info.anon && m_k.rmap.anon_exclusive(pfn);
        if (anon_exclusive) m_k.rmap.clear_anon_exclusive(pfn, 1);
        const MigrationType type = arch::desc_write(old) ? MigrationType::Write
                                   : anon_exclusive      ? MigrationType::ReadExclusive
                                                         : MigrationType::Read;
        Desc entry = make_migration_entry(pfn, type);
        if (arch::desc_young(old)) entry = make_migration_entry_young(entry);
        if (arch::desc_dirty(old)) entry = make_migration_entry_dirty(entry);
        if (pte_uffd_wp(old)) entry = pte_swp_mkuffd_wp(entry);
        m_k.pgtable.set_pte_at(mm, addr, ptep, entry);
        // folio_remove_rmap_pte: from the second page on, a large source is partially mapped.
        m_k.rmap.note_unmap(m.src.head_pfn, m.src.order, m_k.rmap.remove(m.src.head_pfn, mm.id, 1));
        m.mapped = true;
    }
}

// set_pmd_migration_entry: pmdp_invalidate (present-invalid, PMD-level TLBI at once), then
// one PMD migration entry for the whole THP with the same state a PTE entry keeps.
void MmOps::set_pmd_migration_entry(Mm& mm, MigrateFolio& m) {
    const Desc old = pmdp_invalidate(mm, m.pmd_entry, m.fstart);
    Rmap::Info& info = m_k.rmap.info(m.src.head_pfn);
    if (arch::desc_dirty(old)) info.dirty = true;
    const bool anon_exclusive = m_k.rmap.anon_exclusive(m.src.head_pfn);
    if (anon_exclusive) m_k.rmap.clear_anon_exclusive(m.src.head_pfn, m.src.nr_pages());  // folio_try_share_anon_rmap_pmd
    const MigrationType type = arch::desc_write(old) ? MigrationType::Write
                               : anon_exclusive      ? MigrationType::ReadExclusive
                                                     : MigrationType::Read;
    Desc entry = make_migration_entry(m.src.head_pfn, type);
    if (arch::desc_young(old)) entry = make_migration_entry_young(entry);
    if (arch::desc_dirty(old)) entry = make_migration_entry_dirty(entry);
    if (pte_uffd_wp(old)) entry = pte_swp_mkuffd_wp(entry);
    m_k.tables.set_pmd_at(m.pmd_entry, entry);
    m_k.rmap.remove(m.src.head_pfn, mm.id, m_k.geo.ptrs_per_table());  // folio_remove_rmap_pmd
    m.mapped = true;
}

// migrate_folio_move: move_to_new_folio (migrate_folio: folio_migrate_mapping, folio_copy of
// every page, folio_migrate_flags with PG_dirty), remove_migration_ptes, and the source
// folio's last reference dropped (migrate_folio_done).
void MmOps::migrate_folio_move(Mm& mm, MigrateFolio& m) {
    const std::uint64_t bytes = m.src.nr_pages() << m_k.geo.page_shift;
    m_k.delay += cycles_to_time(m_k.config.costs.copy_per_4k * (bytes >> 12));
    const bool dirty = m_k.rmap.info(m.src.head_pfn).dirty;
    m_k.rmap.info(m.dst.head_pfn).dirty = dirty;
    // folio_migrate_mapping sets PG_swapbacked only where the source had it: a lazyfree
    // folio stays lazyfree.
    m_k.rmap.info(m.dst.head_pfn).lazyfree = m_k.rmap.info(m.src.head_pfn).lazyfree;
    // "mm: migrate: requeue destination folio on deferred split queue" (2026, Fixes:
    // dafff3f4c850 "mm: split underused THPs", so also in the 6.12 LTS series): the source's
    // deferred split state, recorded after try_to_migrate, is handed to the destination
    // (deferred_split_folio(dst, src_partially_mapped)). try_to_migrate_one unmapped the
    // source page by page, which made every PTE-mapped large source partially mapped: its
    // new folio is partially mapped too, fully mapped as it is, and the next migration splits
    // it. linux-check showed it against Linux 6.12.95 (configs/linux/migrate_partial.json:
    // a block migrated twice comes back as order-0 pages the second time). Not modelled for
    // the 6.13 to 6.19 trees.
    const KernelVersion& v = m_k.config.version;
    const bool requeues = v.is_current() || (v.at_least(6, 12) && !v.at_least(6, 13));
    if (requeues && m_k.rmap.info(m.src.head_pfn).partially_mapped) m_k.rmap.info(m.dst.head_pfn).partially_mapped = true;
    if (m.mapped) {
        if (m.pmd_entry != 0) remove_migration_pmd(mm, m);
        else remove_migration_ptes(mm, m);
    }
    const Rmap::Info* src = m_k.rmap.find(m.src.head_pfn);
    if (src != nullptr && src->total() != 0)
        throw KernelError("page migration left " + std::to_string(src->total()) +
                          " mappings of the folio at PFN " + std::to_string(m.src.head_pfn) +
                          " it queued as mapped by the calling process alone (a model error)");
    m_pages.free(m.src);
    ++m_k.stats.folios_migrated;
    m_k.stats.pages_migrated += m.src.nr_pages();
}

// remove_migration_pte for each page whose migration entry points at the source folio:
// mk_pte of the new page from vm_page_prot, old unless the entry was young, dirty if the
// folio and the entry were, writable if the entry was (else uffd-wp if it had it),
// RMAP_EXCLUSIVE unless it was a plain readable entry; one set_pte_at each, in ascending
// order, with no TLBI (the entry was not present).
void MmOps::remove_migration_ptes(Mm& mm, const MigrateFolio& m) {
    const std::uint64_t page = m_k.geo.page_size();
    const bool folio_dirty = m_k.rmap.info(m.dst.head_pfn).dirty;
    for (std::uint64_t i = 0; i < m.src.nr_pages(); ++i) {
        const std::uint64_t addr = m.fstart + i * page;
        const Vma* vma = mm.find_vma(addr);
        if (vma == nullptr || !vma->anonymous()) continue;
        const std::uint64_t ptep = m_k.tables.pte_offset(m.table, addr);
        const Desc old = m_k.pgtable.ptep_get(ptep);  // page_vma_mapped_walk(PVMW_MIGRATION)
        if (!is_migration_entry(old) || migration_entry_pfn(old) != m.src.head_pfn + i) continue;
        const std::uint64_t pfn = m.dst.head_pfn + i;
        Desc pte = arch::desc_with_pfn(vma->page_prot, pfn, m_k.geo.page_shift);
        if (!is_migration_entry_young(old)) pte = arch::desc_mkold(pte);
        if (folio_dirty && is_migration_entry_dirty(old)) pte = arch::desc_mkdirty(pte);
        if (is_writable_migration_entry(old)) pte = arch::desc_mkwrite(pte);
        else if (pte_swp_uffd_wp(old)) pte = pte_mkuffd_wp(pte);
        if (!is_readable_migration_entry(old)) m_k.rmap.set_anon_exclusive(pfn, 1);
        m_k.rmap.add(m.dst.head_pfn, mm.id, 1);  // folio_add_anon_rmap_pte
        m_k.pgtable.set_pte_at(mm, addr, ptep, pte);
    }
}

// remove_migration_pmd: mk_huge_pmd of the new folio, write / uffd-wp / old / dirty as
// above, then set_pmd_at (no flush: the PMD was not present).
void MmOps::remove_migration_pmd(Mm& mm, const MigrateFolio& m) {
    const Vma* vma = mm.find_vma(m.fstart);
    const Desc old = m_k.tables.pmd_read(m.pmd_entry);
    if (vma == nullptr || !is_migration_entry(old)) return;
    Desc pmde = arch::desc_with_pfn(vma->page_prot, m.dst.head_pfn, m_k.geo.page_shift) & ~kType;
    if (is_writable_migration_entry(old)) pmde = arch::desc_mkwrite(pmde);
    if (pte_swp_uffd_wp(old)) pmde = pte_mkuffd_wp(pmde);
    if (!is_migration_entry_young(old)) pmde = arch::desc_mkold(pmde);
    if (m_k.rmap.info(m.dst.head_pfn).dirty && is_migration_entry_dirty(old)) pmde = arch::desc_mkdirty(pmde);
    if (!is_readable_migration_entry(old)) m_k.rmap.set_anon_exclusive(m.dst.head_pfn, m.dst.nr_pages());
    m_k.rmap.add(m.dst.head_pfn, mm.id, m_k.geo.ptrs_per_table());  // folio_add_anon_rmap_pmd
    m_k.tables.set_pmd_at(m.pmd_entry, pmde);
}

}  // namespace mmusim::kernel
