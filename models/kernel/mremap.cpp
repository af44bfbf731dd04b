// mremap (mm/mremap.c) of a range to a fixed new address, the same length:
// mremap(addr, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, new_addr). mremap_to unmaps the
// destination, move_vma copies the VMA, move_page_tables moves the entries, and the old range
// is unmapped (its page tables freed). arm64 selects HAVE_MOVE_PMD, so a PMD range both sides
// of which are PMD aligned moves its whole PTE table (move_normal_pmd) and a THP its PMD leaf
// (move_huge_pmd); everything else moves entry by entry in move_ptes, which from v6.17 moves
// a folded block as one batch ("mm: optimize mremap() by PTE batching", f822a9a81a31).
// HAVE_MOVE_PUD's 1G moves are not modelled: such a range moves PMD by PMD.
#include <algorithm>

#include "models/kernel/mm_ops.h"
#include "models/kernel/pte.h"

namespace mmusim::kernel {

int MmOps::mremap(Mm& mm, std::uint64_t addr, std::uint64_t len, std::uint64_t new_addr) {
    if (!aligned(addr) || !aligned(new_addr)) return -err::kEinval;
    len = page_align(len);
    if (len == 0 || addr + len > arch::kUserVaEnd || new_addr + len > arch::kUserVaEnd) return -err::kEinval;
    // mremap_to: the two ranges may not overlap.
    if (new_addr < addr + len && addr < new_addr + len) return -err::kEinval;
    // vma_to_resize: the old range lies in one VMA.
    const Vma* found = mm.find_vma(addr);
    if (found == nullptr || found->end - addr < len) return -err::kEfault;
    // MREMAP_FIXED: whatever is mapped at the destination goes first.
    (void)munmap(mm, new_addr, len);
    split_vma_at(mm, addr);
    split_vma_at(mm, addr + len);
    const Vma old = mm.vmas.at(addr);
    // copy_vma. Without UFFD_FEATURE_EVENT_REMAP the new VMA is not registered with
    // userfaultfd (mremap_userfaultfd_prep); from v6.13 its uffd-wp state is cleared too ("mm:
    // clear uffd-wp PTE/PMD state on mremap()", 0cef0bb836e3); before, the bits moved along.
    Vma moved = old;
    moved.start = new_addr;
    moved.end = new_addr + len;
    moved.flags.uffd_missing = moved.flags.uffd_wp = false;
    const bool clear_uffd_wp = old.flags.uffd_wp && m_k.config.version.at_least(6, 13);
    mm.vmas.emplace(new_addr, moved);
    move_page_tables(mm, old, addr, new_addr, len, clear_uffd_wp);
    // do_vmi_munmap of the old range: nothing is mapped there any more; its VMA goes and the
    // page tables no VMA uses are freed.
    (void)munmap(mm, addr, len);
    merge_vmas(mm, new_addr, new_addr + len);
    return 0;
}

void MmOps::move_page_tables(Mm& mm, const Vma& vma, std::uint64_t old_addr, std::uint64_t new_addr, std::uint64_t len,
                             bool clear_uffd_wp) {
    const std::uint64_t pmd_size = m_k.geo.pmd_size();
    const std::uint64_t old_end = old_addr + len;
    for (std::uint64_t extent = 0; old_addr < old_end; old_addr += extent, new_addr += extent) {
        // get_extent(NORMAL_PMD): up to the next PMD boundary of either side.
        extent = std::min(m_k.geo.pmd_addr_end(old_addr, old_end) - old_addr,
                          ((new_addr + pmd_size) & ~(pmd_size - 1)) - new_addr);
        // get_old_pmd: nothing to move where no table or leaf is.
        const std::uint64_t old_pmd = m_k.tables.pmd_lookup(mm, old_addr);
        if (old_pmd == 0 || m_k.tables.pmd_read(old_pmd) == 0) continue;
        const std::uint64_t new_pmd = m_k.tables.pmd_alloc(mm, new_addr);  // alloc_new_pmd
        if (pmd_leaf(m_k.tables.pmd_read(old_pmd))) {
            if (extent == pmd_size && move_huge_pmd(mm, old_addr, new_addr, old_pmd, new_pmd, clear_uffd_wp)) continue;
            split_huge_pmd(mm, vma, old_pmd, old_addr);
        } else if (extent == pmd_size && !clear_uffd_wp && move_normal_pmd(mm, old_addr, old_pmd, new_pmd)) {
            // A uffd VMA whose uffd-wp state must be cleared goes entry by entry instead
            // (move_normal_pmd's vma_has_uffd_without_event_remap test).
            continue;
        }
        const std::uint64_t old_table = m_k.tables.pte_table(old_pmd);
        if (old_table == 0) continue;
        move_ptes(mm, vma, old_table, old_addr, old_addr + extent, m_k.tables.pte_alloc(new_pmd), new_addr, clear_uffd_wp);
    }
}

bool MmOps::move_normal_pmd(Mm& mm, std::uint64_t old_addr, std::uint64_t old_pmd, std::uint64_t new_pmd) {
    // The whole PTE table changes hands: the old PMD entry is cleared, the table installed at
    // the new one (pmd_populate: its barrier), and the old range flushed before the lock is
    // dropped (flush_tlb_range: not last level, the table moved).
    if (m_k.tables.pmd_read(new_pmd) != 0) return false;
    const std::uint64_t table = m_k.tables.pte_table(old_pmd);
    if (table == 0) return false;
    m_k.tables.set_pmd_at(old_pmd, 0);  // pmd_clear
    m_k.tables.pmd_populate(new_pmd, table);
    m_k.flush.flush_tlb_range(mm, old_addr, old_addr + m_k.geo.pmd_size(), m_k.geo.page_size(), false, 0);
    ++m_k.stats.mremap_pmds_moved;
    return true;
}

bool MmOps::move_huge_pmd(Mm& mm, std::uint64_t old_addr, std::uint64_t new_addr, std::uint64_t old_pmd,
                          std::uint64_t new_pmd, bool clear_uffd_wp) {
    // mm/huge_memory.c move_huge_pmd: the leaf moves with its deposited table; a present one
    // is flushed from the old range (flush_pmd_tlb_range).
    if (m_k.tables.pmd_read(new_pmd) != 0) return false;
    Desc pmd = m_k.tables.pmdp_huge_get_and_clear(old_pmd);
    if (mm.deposited.count(old_addr) != 0) deposit_table(mm, new_addr, withdraw_table(mm, old_addr));
    if (clear_uffd_wp) pmd = pte_clear_uffd_wp(pmd);
    m_k.tables.set_pmd_at(new_pmd, pmd);
    if (pte_present(pmd)) flush_pmd_tlb_range(mm, old_addr);
    ++m_k.stats.mremap_pmds_moved;
    return true;
}

unsigned MmOps::mremap_folio_pte_batch(const Vma& vma, std::uint64_t ptep, Desc pte, unsigned max_nr) {
    // Only a folded block is worth the folio lookup (pte_batch_hint, "mm/mremap: avoid
    // expensive folio lookup on mremap folio pte batch"); the batch respects the write bit
    // ("mm/mremap: honour writable bit in mremap pte batching", for 6.17 too).
    if (max_nr == 1 || m_k.pgtable.pte_batch_hint(ptep, pte) == 1) return 1;
    const std::optional<Folio> folio = vm_normal_folio(vma, pte);
    if (!folio || folio->order == 0) return 1;
    return folio_pte_batch(*folio, ptep, pte, max_nr, kFpbRespectWrite);
}

void MmOps::move_ptes(Mm& mm, const Vma& vma, std::uint64_t old_table, std::uint64_t old_addr, std::uint64_t old_end,
                      std::uint64_t new_table, std::uint64_t new_addr, bool clear_uffd_wp) {
    const std::uint64_t page = m_k.geo.page_size();
    const std::uint64_t len = old_end - old_addr;
    Pgtable& pt = m_k.pgtable;
    const bool batched = m_k.config.version.at_least(6, 17);
    bool force_flush = false;
    flush_tlb_batched_pending(mm);
    const LazyMmu::State lazy = m_k.lazy.enable();
    while (old_addr < old_end) {
        const std::uint64_t old_ptep = m_k.tables.pte_offset(old_table, old_addr);
        const std::uint64_t new_ptep = m_k.tables.pte_offset(new_table, new_addr);
        unsigned nr = 1;
        const Desc old_pte = pt.ptep_get(old_ptep);
        if (pte_none(old_pte)) {
            old_addr += page;
            new_addr += page;
            continue;
        }
        // A present entry must be flushed from the old address before the lock is dropped:
        // the page may be freed through the new mapping once it is there.
        if (pte_present(old_pte)) {
            if (batched) nr = mremap_folio_pte_batch(vma, old_ptep, old_pte, static_cast<unsigned>((old_end - old_addr) / page));
            force_flush = true;
        }
        // get_and_clear_ptes (v6.17) or ptep_get_and_clear; move_pte is nothing on arm64.
        Desc pte = batched ? pt.get_and_clear_full_ptes(mm, old_addr, old_ptep, nr) : pt.ptep_get_and_clear(mm, old_addr, old_ptep);
        if (clear_uffd_wp && pte_marker_uffd_wp(pte)) {
            pt.pte_clear(mm, new_addr, new_ptep);
        } else {
            if (clear_uffd_wp && pte_present(pte)) pte = pte_clear_uffd_wp(pte);
            else if (clear_uffd_wp && is_swap_entry(pte)) pte = pte_swp_clear_uffd_wp(pte);
            pt.set_ptes(mm, new_addr, new_ptep, pte, nr);
        }
        old_addr += std::uint64_t{nr} * page;
        new_addr += std::uint64_t{nr} * page;
    }
    m_k.lazy.disable(lazy);
    if (force_flush) m_k.flush.flush_tlb_range(mm, old_end - len, old_end, page, false, 0);
}

}  // namespace mmusim::kernel
