// PMD leaves (mm/huge_memory.c, mm/pgtable-generic.c and their arm64 helpers): PMD-sized
// anonymous THPs, the huge zero folio and huge pfn maps, when they are split to PTEs, zapped,
// re-protected, copied at fork, freed lazily and aged (spec/kernel.md §5.8, §6.3).
//
// A THP keeps a PTE table aside from the fault on (pgtable_trans_huge_deposit) so that a split
// never allocates. Splitting an anonymous THP invalidates the PMD with an immediate PMD-level
// TLBI, writes all its pages with ONE set_ptes, so every aligned contiguous block is written
// folded without a convert, and then installs the table (pmd_populate: DSB.ISHST + ISB).
// PMD stores are page-table traffic (pgtables.table_reads / table_writes), not PTE events.
#include "models/kernel/mm_ops.h"
#include "models/kernel/pte.h"

namespace mmusim::kernel {

using namespace arch::bits;

bool MmOps::pmd_leaf(Desc pmd) { return pte_present(pmd) && (pmd & kType) == 0; }

bool MmOps::is_huge_zero_pmd(Desc pmd) const {
    return m_k.huge_zero_pfn != 0 && pmd_leaf(pmd) && arch::desc_pfn(pmd, m_k.geo.page_shift) == m_k.huge_zero_pfn;
}

std::uint64_t MmOps::thp_vma_allowable_orders(const Vma& vma) const {
    // include/linux/huge_mm.h thp_vma_allowable_orders (anonymous VMA, TVA_ENFORCE_SYSFS):
    // the `always` orders, the `madvise` ones in a VM_HUGEPAGE VMA, the `inherit` ones when
    // the top-level setting enables the VMA (always, or madvise with VM_HUGEPAGE); then
    // __thp_vma_allowable_orders gives nothing to a VM_NOHUGEPAGE VMA (vma_thp_disabled in
    // the newer trees). The same in every modelled version: per-size modes came with
    // 19eaf44954df "mm: thp: support allocation of anonymous multi-size THP" (v6.8).
    using Thp = KernelConfig::Thp;
    if (vma.flags.nohugepage || !vma.anonymous()) return 0;
    const auto bits = [](const std::vector<unsigned>& orders) {
        std::uint64_t m = 0;
        for (const unsigned o : orders) m |= std::uint64_t{1} << o;
        return m;
    };
    std::uint64_t mask = bits(m_k.config.mthp_orders);
    if (vma.flags.hugepage) mask |= bits(m_k.config.mthp_madvise_orders);
    if (m_k.config.thp == Thp::Always || (vma.flags.hugepage && m_k.config.thp == Thp::Madvise))
        mask |= bits(m_k.config.mthp_inherit_orders);
    return mask;
}

bool MmOps::thp_allowed(const Vma& vma, std::uint64_t addr) const {
    using Thp = KernelConfig::Thp;
    if (m_k.config.thp == Thp::Never || vma.flags.nohugepage) return false;
    if (m_k.config.thp == Thp::Madvise && !vma.flags.hugepage) return false;
    // Shared anonymous memory is shmem, whose huge pages follow shmem_enabled (not
    // modelled); file memory maps PMD folios of the page cache only.
    if (!vma.anonymous()) return false;
    // A missing-page userfaultfd hands the fault to the monitor, which fills single pages.
    if (vma.flags.uffd_missing) return false;
    const std::uint64_t haddr = addr & ~(m_k.geo.pmd_size() - 1);
    return haddr >= vma.start && haddr + m_k.geo.pmd_size() <= vma.end;
}

void MmOps::flush_pmd_tlb_range(const Mm& mm, std::uint64_t haddr) {
    m_k.flush.flush_tlb_range(mm, haddr, haddr + m_k.geo.pmd_size(), m_k.geo.pmd_size(), false, 2);
}

Desc MmOps::pmdp_invalidate(const Mm& mm, std::uint64_t pmd_entry, std::uint64_t haddr) {
    // pmd_mkinvalid: VALID cleared, PRESENT_INVALID set, so the entry stays "present" to
    // the kernel while no walker can use it.
    const Desc old = m_k.tables.pmd_read(pmd_entry);
    const Desc invalid = (old & ~kValid) | pte_bits::kPresentInvalid;
    (void)m_k.tables.pmdp_establish(pmd_entry, invalid);
    flush_pmd_tlb_range(mm, haddr);
    return old;
}

void MmOps::deposit_table(Mm& mm, std::uint64_t haddr, std::uint64_t table) { mm.deposited[haddr] = table; }

std::uint64_t MmOps::withdraw_table(Mm& mm, std::uint64_t haddr) {
    const auto it = mm.deposited.find(haddr);
    if (it == mm.deposited.end()) return m_k.tables.pte_alloc_one();  // every THP deposits one; never empty-handed
    const std::uint64_t table = it->second;
    mm.deposited.erase(it);
    return table;
}

void MmOps::split_huge_pmd(Mm& mm, const Vma& vma, std::uint64_t pmd_entry, std::uint64_t addr) {
    const std::uint64_t pmd_size = m_k.geo.pmd_size();
    const std::uint64_t haddr = addr & ~(pmd_size - 1);
    const Desc pmd = m_k.tables.pmd_read(pmd_entry);
    if (!pmd_leaf(pmd)) return;
    ++m_k.stats.huge_pmd_splits;
    const unsigned nr = static_cast<unsigned>(m_k.geo.ptrs_per_table());
    if (vma.pfnmap()) {
        // A special PMD of a huge pfn map: cleared with an immediate flush; nothing is
        // installed, the driver faults PTEs in later.
        (void)m_k.tables.pmdp_huge_get_and_clear(pmd_entry);
        flush_pmd_tlb_range(mm, haddr);
        return;
    }
    if (is_huge_zero_pmd(pmd)) {
        // __split_huge_zero_page_pmd: clear and flush, then one zero-page entry per page
        // (set_pte_at each), then the table.
        (void)m_k.tables.pmdp_huge_get_and_clear(pmd_entry);
        flush_pmd_tlb_range(mm, haddr);
        const std::uint64_t table = withdraw_table(mm, haddr);
        Desc entry = arch::desc_with_pfn(vma.page_prot, m_k.zero_pfn, m_k.geo.page_shift) | kSwSpecial;
        entry &= ~kDbm;
        if (pte_uffd_wp(pmd)) entry = pte_mkuffd_wp(entry);
        for (unsigned i = 0; i < nr; ++i) {
            const std::uint64_t a = haddr + std::uint64_t{i} * m_k.geo.page_size();
            m_k.pgtable.set_pte_at(mm, a, m_k.tables.pte_offset(table, a), entry);
        }
        m_k.tables.pmd_populate(pmd_entry, table);
        return;
    }
    // An anonymous THP (not freezing): invalidate with an immediate flush, rebuild the
    // entries from the VMA's protection and the PMD's write/young/dirty/uffd-wp state, write
    // them with one set_ptes, install the deposited table.
    const Desc old = pmdp_invalidate(mm, pmd_entry, haddr);
    const std::uint64_t table = withdraw_table(mm, haddr);
    Desc entry = arch::desc_with_pfn(vma.page_prot, arch::desc_pfn(old, m_k.geo.page_shift), m_k.geo.page_shift);
    if (arch::desc_write(old)) entry = arch::desc_mkwrite(entry);
    if (!arch::desc_young(old)) entry = arch::desc_mkold(entry);
    if (arch::desc_dirty(old)) {
        entry = arch::desc_mkdirty(entry);
        // __split_huge_pmd_locked: a dirty PMD makes the folio dirty (folio_set_dirty).
        m_k.rmap.info(arch::desc_pfn(old, m_k.geo.page_shift)).dirty = true;
    }
    if (pte_uffd_wp(old)) entry = pte_mkuffd_wp(entry);
    m_k.pgtable.set_ptes(mm, haddr, m_k.tables.pte_offset(table, haddr), entry, nr);
    m_k.tables.pmd_populate(pmd_entry, table);
}

void MmOps::split_huge_pmd_address(Mm& mm, std::uint64_t addr) {
    const std::uint64_t pmd_size = m_k.geo.pmd_size();
    if ((addr & (pmd_size - 1)) == 0) return;
    const Vma* vma = mm.find_vma(addr);
    const std::uint64_t haddr = addr & ~(pmd_size - 1);
    if (vma == nullptr || haddr < vma->start || haddr + pmd_size > vma->end) return;
    const std::uint64_t pmd = m_k.tables.pmd_lookup(mm, addr);
    if (pmd != 0) split_huge_pmd(mm, *vma, pmd, addr);  // it checks for a leaf itself
}

void MmOps::zap_huge_pmd(MmuGather& tlb, Mm& mm, const Vma& vma, std::uint64_t pmd_entry, std::uint64_t haddr) {
    // The whole leaf goes, gathered at PMD stride; the deposited table is freed directly.
    const Desc old = m_k.tables.pmdp_huge_get_and_clear(pmd_entry);
    tlb.tlb_flush_pmd_range(haddr, m_k.geo.pmd_size());
    if (vma.pfnmap()) return;
    const bool folio = !is_huge_zero_pmd(old);
    const std::uint64_t pfn = arch::desc_pfn(old, m_k.geo.page_shift);
    if (folio) m_pages.folio_remove_rmap_ptes(pfn, mm.id, m_k.geo.ptrs_per_table());  // folio_remove_rmap_pmd
    const auto it = mm.deposited.find(haddr);
    if (it != mm.deposited.end()) {
        m_k.tables.pte_free(it->second);
        mm.deposited.erase(it);
    }
    // After the PMD lock is dropped: one gather slot for the whole folio
    // (tlb_remove_page_size(HPAGE_PMD_SIZE)), which flushes and frees at once when full.
    if (folio) tlb.tlb_remove_page_size(pfn);
}

long MmOps::change_huge_pmd(MmuGather& tlb, Mm& mm, const Vma& vma, std::uint64_t pmd_entry, std::uint64_t haddr,
                            unsigned cp_flags) {
    // Pfn maps keep their protection in the driver; NUMA hinting of PMD leaves is not part
    // of the model (they are left mapped).
    if (vma.pfnmap() || (cp_flags & kCpProtNuma) != 0) return 0;
    const bool uffd_wp = (cp_flags & kCpUffdWp) != 0;
    const bool uffd_wp_resolve = (cp_flags & kCpUffdWpResolve) != 0;
    // pmdp_invalidate_ad (generic on arm64): the immediate flush comes with it.
    const Desc old = pmdp_invalidate(mm, pmd_entry, haddr);
    Desc entry = pte_modify(old, vma.page_prot) & ~kType;
    if (uffd_wp) entry = pte_mkuffd_wp(entry);
    else if (uffd_wp_resolve) entry = pte_clear_uffd_wp(entry);
    if ((cp_flags & kCpTryChangeWritable) != 0 && !arch::desc_write(entry) && !pte_uffd_wp(entry) &&
        arch::desc_valid(entry) && !is_huge_zero_pmd(old)) {
        // can_change_pmd_writable: a PageAnonExclusive anonymous THP of a private mapping, or
        // a dirty shared one.
        const std::uint64_t head = arch::desc_pfn(old, m_k.geo.page_shift);
        const bool set_write = vma.flags.shared ? arch::desc_dirty(entry)
                                                : vma.flags.write && m_k.rmap.anon_exclusive(head);
        if (set_write) entry = arch::desc_mkwrite(entry);
    }
    m_k.tables.set_pmd_at(pmd_entry, entry);
    if (pte_needs_flush(old, entry)) tlb.tlb_flush_pmd_range(haddr, m_k.geo.pmd_size());
    return static_cast<long>(m_k.geo.ptrs_per_table());
}

void MmOps::copy_huge_pmd(Mm& dst, std::uint64_t pmd_entry, std::uint64_t haddr) {
    // The child's table for a later split comes first (pte_alloc_one), then the parent is
    // write-protected in place (pmdp_set_wrprotect, no TLBI: the fork's flush_tlb_mm
    // follows) and the child gets an old, read-only copy.
    const std::uint64_t dst_pmd = m_k.tables.pmd_alloc(dst, haddr);
    const std::uint64_t table = m_k.tables.pte_alloc_one();
    const Desc pmd = m_k.tables.pmd_read(pmd_entry);
    if (!is_huge_zero_pmd(pmd)) {
        // folio_try_dup_anon_rmap_pmd: the THP is no longer exclusive to the parent.
        const std::uint64_t head = arch::desc_pfn(pmd, m_k.geo.page_shift);
        m_k.rmap.add(head, dst.id, m_k.geo.ptrs_per_table());
        m_k.rmap.clear_anon_exclusive(head, m_k.geo.ptrs_per_table());
    }
    deposit_table(dst, haddr, table);
    (void)m_k.tables.pmdp_establish(pmd_entry, pte_wrprotect(pmd));
    Desc child = pte_wrprotect(pmd);
    child = pte_clear_uffd_wp(child);  // the child VMA is not uffd-wp registered
    child = arch::desc_mkold(child);
    m_k.tables.set_pmd_at(dst_pmd, child);
}

void MmOps::madvise_free_huge_pmd(MmuGather& tlb, Mm& mm, std::uint64_t pmd_entry, std::uint64_t haddr) {
    const Desc pmd = m_k.tables.pmd_read(pmd_entry);
    if (is_huge_zero_pmd(pmd)) return;
    // Only a folio this process alone maps is freed lazily.
    if (!m_k.rmap.exclusive_to(arch::desc_pfn(pmd, m_k.geo.page_shift), mm.id)) {
        ++m_k.stats.madvise_free_skipped;
        return;
    }
    Rmap::Info& info = m_k.rmap.info(arch::desc_pfn(pmd, m_k.geo.page_shift));
    info.dirty = false;  // folio_clear_dirty
    if (arch::desc_young(pmd) || arch::desc_dirty(pmd)) {
        const Desc old = pmdp_invalidate(mm, pmd_entry, haddr);
        m_k.tables.set_pmd_at(pmd_entry, arch::desc_mkclean(arch::desc_mkold(old)));
        tlb.tlb_flush_pmd_range(haddr, m_k.geo.pmd_size());
    }
    folio_mark_lazyfree(info);
}

void MmOps::pmdp_clear_flush_young(Mm& mm, std::uint64_t pmd_entry, std::uint64_t haddr) {
    const Desc pmd = m_k.tables.pmd_read(pmd_entry);
    if (!arch::desc_young(pmd)) return;
    (void)m_k.tables.pmdp_establish(pmd_entry, arch::desc_mkold(pmd));
    flush_pmd_tlb_range(mm, haddr);
}

}  // namespace mmusim::kernel
