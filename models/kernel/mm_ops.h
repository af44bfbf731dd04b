// The mm operations of spec/kernel.md §6 that system calls run: mmap (with remap_pfn_range),
// munmap and the zap engine (mm/memory.c zap_pte_range), mprotect and userfaultfd
// write-protect (mm/mprotect.c change_protection), madvise, fork (copy_page_range), exit,
// and reclaim aging. Each is implemented in the file named after it; all share the kernel
// context and the VMA helpers here.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <optional>
#include <vector>

#include "models/kernel/kernel_context.h"
#include "models/kernel/mm.h"
#include "models/kernel/mmu_gather.h"
#include "models/kernel/page_alloc.h"
#include "models/kernel/syscall.h"

namespace mmusim::kernel {

// change_protection flags (MM_CP_*).
enum CpFlags : unsigned {
    kCpTryChangeWritable = 1,
    kCpProtNuma = 2,
    kCpUffdWp = 4,
    kCpUffdWpResolve = 8,
};

// folio_pte_batch flags (FPB_*).
enum FpbFlags : unsigned { kFpbRespectDirty = 1, kFpbRespectWrite = 2, kFpbMergeWrite = 4, kFpbMergeYoungDirty = 8 };

// The reclaim side of batched TLB flushing (struct tlbflush_unmap_batch of current->tlb_ubc).
struct TlbUnmapBatch {
    bool flush_required = false;  // TLBIs were issued without their DSB
    bool writable = false;        // one of the cleared entries was dirty
};

struct ZapDetails {
    bool drop_markers = false;  // ZAP_FLAG_DROP_MARKER (munmap, exit)
};

class MmOps {
public:
    MmOps(KernelContext& k, PageAlloc& pages);

    // System calls: 0, or a negative errno as Linux answers.
    int mmap(Mm& mm, const Syscall& call);
    int munmap(Mm& mm, std::uint64_t addr, std::uint64_t len);
    // brk to the traced new break `call.new_addr` (mm/mmap.c brk): the heap VMA grows
    // (do_brk_flags) or its tail is unmapped.
    int brk(Mm& mm, const Syscall& call);
    int mprotect(Mm& mm, std::uint64_t addr, std::uint64_t len, unsigned prot);
    // task_numa_work's scan: change_prot_numa over the VMAs in [addr, addr + len), making
    // mapped entries PROT_NONE so that the next access takes a NUMA hinting fault.
    int numa_scan(Mm& mm, std::uint64_t addr, std::uint64_t len);
    int madvise(Mm& mm, std::uint64_t addr, std::uint64_t len, Advice advice);
    // dup_mmap: a new address space for the child (its PGD allocated, ASID given).
    std::unique_ptr<Mm> fork(Mm& parent, unsigned child_id, std::uint16_t child_asid);
    // exit_mmap: tear down every mapping and page table of `mm`.
    void exit_mmap(Mm& mm);
    int uffd_register(Mm& mm, const Syscall& call);
    int uffd_unregister(Mm& mm, std::uint64_t addr, std::uint64_t len);
    int uffd_writeprotect(Mm& mm, std::uint64_t addr, std::uint64_t len, bool protect);
    // Reclaim aging of the mapped pages of [addr, addr + len): clear the access flags, as
    // the rmap walk of folio_referenced does for each mapping.
    int reclaim(Mm& mm, std::uint64_t addr, std::uint64_t len);
    // mremap(addr, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, new_addr) (mremap.cpp): the
    // mapping and its page tables move to new_addr; whatever was mapped there is unmapped.
    int mremap(Mm& mm, std::uint64_t addr, std::uint64_t len, std::uint64_t new_addr);
    // MADV_COLLAPSE of [start, end) (khugepaged.cpp): 0, EINVAL or ENOMEM as Linux answers.
    int madvise_collapse(Mm& mm, std::uint64_t start, std::uint64_t end);
    // The scan results of mm/khugepaged.c that MADV_COLLAPSE tells apart.
    enum class Scan : std::uint8_t { Succeed, PmdMapped, PmdNull, NonPresent, UffdWp, PageNotAnon, AllocFail };
    // Page migration of every anonymous folio this process alone maps in [addr, addr + len)
    // to a new folio of the same order (migrate_pages(2) / mbind(MPOL_MF_MOVE) to another
    // node; the model has one): queue_pages_range, then migrate_pages (migrate.cpp).
    int migrate(Mm& mm, std::uint64_t addr, std::uint64_t len);

    // Layout "trace" (trace_layout.cpp): the VMAs of the address space at exec, the file id of
    // a traced path, mremap with the traced result, vma_expand, and expand_stack for a fault
    // below the stack (false: a SIGSEGV).
    void install_initial_mappings(Mm& mm, const std::vector<InitialMapping>& maps);
    unsigned trace_file(const std::string& path);
    int mremap_traced(Mm& mm, const Syscall& call);
    int vma_expand(Mm& mm, std::uint64_t at, std::uint64_t extra);
    bool expand_stack(Mm& mm, std::uint64_t va);

    // MADV_PAGEOUT of [start, end) of one private anonymous VMA (vmscan.cpp): its folios are
    // swapped out.
    void madvise_pageout_page_range(Mm& mm, const Vma& vma, std::uint64_t start, std::uint64_t end);
    // free_swap_and_cache_nr: the `nr` swap entries from `entry` lose a reference each; a
    // folio still in the swap cache for a slot nobody references any more leaves the cache.
    void free_swap_and_cache_nr(Desc entry, unsigned nr);
    // swap_pte_batch: the number of entries from `ptep` (at most max_nr) that are swap entries
    // with consecutive offsets and the same flags as `pte`.
    unsigned swap_pte_batch(std::uint64_t ptep, unsigned max_nr, Desc pte);
    // folio_free_swap: the folio of `pfn` leaves the swap cache (freed if nothing maps it).
    void folio_free_swap(std::uint64_t pfn);

    // Engine pieces, also used by the fault handler and by tests.
    long change_protection(MmuGather& tlb, Mm& mm, const Vma& vma, std::uint64_t start, std::uint64_t end,
                           unsigned cp_flags);
    void unmap_page_range(MmuGather& tlb, Mm& mm, const Vma& vma, std::uint64_t start, std::uint64_t end,
                          const ZapDetails& details);
    // MADV_FREE of [start, end) of one VMA, and of a part of one PTE table.
    void madvise_free_single_vma(MmuGather& tlb, Mm& mm, const Vma& vma, std::uint64_t start, std::uint64_t end);
    void madvise_free_pte_range(MmuGather& tlb, Mm& mm, const Vma& vma, std::uint64_t table, std::uint64_t addr,
                                std::uint64_t end);
    // split_folio (mm/huge_memory.c split_huge_page_to_list_to_order) of an anonymous large
    // folio mapped by `mm` alone in the PTE table `table` from `fstart` (its first page's VA):
    // unmap_folio replaces each of its entries by a migration entry (deferred page flushes,
    // one DSB.ISH), the folio becomes order-0 folios, remap_page writes each entry back.
    // With `pmd_entry`, the folio is PMD-mapped at `fstart` and the PMD is split frozen.
    void split_folio(Mm& mm, const Vma& vma, std::uint64_t table, const Folio& folio, std::uint64_t fstart,
                     std::uint64_t pmd_entry = 0);
    // free_pgtables: PTE tables of [start, end) whose whole PMD range no VMA uses any more.
    void free_pgtables(MmuGather& tlb, Mm& mm, std::uint64_t start, std::uint64_t end);
    unsigned folio_pte_batch(const Folio& folio, std::uint64_t ptep, Desc pte, unsigned max_nr, unsigned flags,
                             Desc* merged = nullptr);
    // vm_normal_page(): the folio behind a present entry, none for special entries.
    std::optional<Folio> vm_normal_folio(const Vma& vma, Desc pte) const;
    // The PTE table covering `addr`, or 0 (no allocation); also the PMD entry's address and
    // the value read from it (a leaf, none), when asked.
    std::uint64_t pte_table_of(Mm& mm, std::uint64_t addr, std::uint64_t* pmd_entry = nullptr, Desc* pmd_value = nullptr);
    // Splits the VMA spanning `addr` (if any) so that a VMA starts at `addr`.
    void split_vma_at(Mm& mm, std::uint64_t addr);
    // Merges neighbours of [start, end) with identical attributes (vma_merge).
    void merge_vmas(Mm& mm, std::uint64_t start, std::uint64_t end);
    // vm_get_page_prot of a VMA from its flags.
    Desc vma_page_prot(const Vma& vma) const;

    // PMD leaves (mm/huge_memory.c, in huge_memory.cpp): anonymous THPs, the huge zero
    // folio and huge pfn maps.
    // A present PMD leaf (valid or PROT_NONE), as opposed to a table or none.
    static bool pmd_leaf(Desc pmd);
    bool is_huge_zero_pmd(Desc pmd) const;
    // thp_vma_allowable_orders for the anonymous orders below PMD order (the fault path,
    // sysfs enforced): a bit per order; none in a VM_NOHUGEPAGE VMA.
    std::uint64_t thp_vma_allowable_orders(const Vma& vma) const;
    // thp_vma_allowable_order for a PMD-sized anonymous folio at `addr` (the fault path).
    bool thp_allowed(const Vma& vma, std::uint64_t addr) const;
    // __split_huge_pmd: a special PMD is cleared (§6.3), the huge zero folio becomes 512
    // zero-page entries, an anonymous THP becomes 512 PTEs written by one set_ptes (§5.8).
    void split_huge_pmd(Mm& mm, const Vma& vma, std::uint64_t pmd_entry, std::uint64_t addr);
    // split_huge_pmd_if_needed of vma_adjust_trans_huge: a VMA boundary at `addr` that
    // cuts a PMD leaf splits it.
    void split_huge_pmd_address(Mm& mm, std::uint64_t addr);
    // pmdp_invalidate: the leaf made present-invalid, then flush_pmd_tlb_range; the old value.
    Desc pmdp_invalidate(const Mm& mm, std::uint64_t pmd_entry, std::uint64_t haddr);
    // flush_pmd_tlb_range: __flush_tlb_range(PMD_SIZE stride, not last level, level 2).
    void flush_pmd_tlb_range(const Mm& mm, std::uint64_t haddr);
    // The PTE table kept for a THP (pgtable_trans_huge_deposit / _withdraw).
    void deposit_table(Mm& mm, std::uint64_t haddr, std::uint64_t table);
    std::uint64_t withdraw_table(Mm& mm, std::uint64_t haddr);

private:
    // mm/mremap.c: move_page_tables over [old_addr, old_addr + len) to new_addr, a PMD
    // entry at a time where both sides allow it (move_normal_pmd, move_huge_pmd), else the
    // entries of each PTE table (move_ptes). `clear_uffd_wp`: the new VMA is not registered
    // (no UFFD_FEATURE_EVENT_REMAP), so uffd-wp bits and markers go.
    void move_page_tables(Mm& mm, const Vma& vma, std::uint64_t old_addr, std::uint64_t new_addr, std::uint64_t len,
                          bool clear_uffd_wp);
    bool move_normal_pmd(Mm& mm, std::uint64_t old_addr, std::uint64_t old_pmd, std::uint64_t new_pmd);
    bool move_huge_pmd(Mm& mm, std::uint64_t old_addr, std::uint64_t new_addr, std::uint64_t old_pmd,
                       std::uint64_t new_pmd, bool clear_uffd_wp);
    void move_ptes(Mm& mm, const Vma& vma, std::uint64_t old_table, std::uint64_t old_addr, std::uint64_t old_end,
                   std::uint64_t new_table, std::uint64_t new_addr, bool clear_uffd_wp);
    unsigned mremap_folio_pte_batch(const Vma& vma, std::uint64_t ptep, Desc pte, unsigned max_nr);
    // hpage_collapse_scan_pmd and collapse_huge_page for the PMD range at `haddr`.
    Scan hpage_collapse_scan_pmd(Mm& mm, Vma& vma, std::uint64_t haddr);
    Scan collapse_huge_page(Mm& mm, Vma& vma, std::uint64_t haddr, std::uint64_t pmd, std::uint64_t table);
    // A folio queued for migration and where this process maps it (migrate.cpp).
    struct MigrateFolio {
        Folio src;
        Folio dst;
        std::uint64_t fstart = 0;     // VA of the folio's first page
        std::uint64_t table = 0;      // PTE-mapped: the PTE table of its entries
        std::uint64_t pmd_entry = 0;  // PMD-mapped: its PMD entry
        bool mapped = false;          // migrate_folio_unmap left migration entries
    };
    // Page migration (migrate.cpp), named after mm/migrate.c and mm/rmap.c.
    void queue_pages_range(Mm& mm, std::uint64_t start, std::uint64_t end, std::vector<MigrateFolio>& list);
    void migrate_folio_add(Mm& mm, const Folio& folio, std::uint64_t fstart, std::uint64_t table,
                           std::uint64_t pmd_entry, std::vector<MigrateFolio>& list);
    void migrate_pages_batch(Mm& mm, std::vector<MigrateFolio>& batch, std::vector<MigrateFolio>* split_folios);
    bool try_split_folio(Mm& mm, const MigrateFolio& m, std::vector<MigrateFolio>& split_folios);
    void migrate_folio_unmap(Mm& mm, MigrateFolio& m, TlbUnmapBatch& batch);
    void try_to_migrate_one(Mm& mm, MigrateFolio& m, TlbUnmapBatch& batch);
    void set_pmd_migration_entry(Mm& mm, MigrateFolio& m);
    void migrate_folio_move(Mm& mm, MigrateFolio& m);
    void remove_migration_ptes(Mm& mm, const MigrateFolio& m);
    void remove_migration_pmd(Mm& mm, const MigrateFolio& m);

    // Swap-out (vmscan.cpp): a folio isolated for reclaim and where this process maps it.
    struct ReclaimFolio {
        Folio folio;
        std::uint64_t fstart = 0;     // VA of the folio's first page
        std::uint64_t table = 0;      // PTE-mapped: the PTE table of its entries
        std::uint64_t pmd_entry = 0;  // PMD-mapped: its PMD entry
    };
    void madvise_pageout_pte_range(Mm& mm, const Vma& vma, std::uint64_t table, std::uint64_t addr,
                                   std::uint64_t end, std::vector<ReclaimFolio>& list);
    void reclaim_pages(Mm& mm, const Vma& vma, std::vector<ReclaimFolio>& list);
    void shrink_folio(Mm& mm, const Vma& vma, std::vector<ReclaimFolio>& list, std::size_t index, TlbUnmapBatch& batch);
    void split_reclaim_folio(Mm& mm, const Vma& vma, ReclaimFolio& r);
    void try_to_unmap_one(Mm& mm, ReclaimFolio& r, TlbUnmapBatch& batch);
    // A lazyfree (MADV_FREE'd) folio in shrink_folio_list: discarded, or kept when written again.
    void shrink_lazyfree_folio(Mm& mm, const Vma& vma, ReclaimFolio& r, TlbUnmapBatch& batch);
    void try_to_unmap_flush(Mm& mm, TlbUnmapBatch& batch);
    // The clear of one entry that reclaim, migration and a split's unmap make
    // (try_to_unmap_one, try_to_migrate_one): ptep_get_and_clear and set_tlb_ubc_flush_pending
    // where should_defer_flush allows it, else a clear with its flush at once.
    Desc clear_and_flush_deferred(Mm& mm, std::uint64_t addr, std::uint64_t ptep, TlbUnmapBatch& batch);
    // set_tlb_ubc_flush_pending: an accessible cleared entry's TLBI goes out now without its
    // DSB (arch_tlbbatch_add_pending); the batch needs a flush, a dirty entry makes it
    // "writable", and the mm is marked for flush_tlb_batched_pending.
    void set_tlb_ubc_flush_pending(Mm& mm, Desc pteval, std::uint64_t addr, TlbUnmapBatch& batch);

    // zap_pte_range over one PTE table.
    void zap_pte_range(MmuGather& tlb, Mm& mm, const Vma& vma, std::uint64_t table, std::uint64_t addr,
                       std::uint64_t end, const ZapDetails& details);
    // zap_install_uffd_wp_if_needed: markers in place of `nr` cleared entries from `ptep`.
    void zap_install_uffd_wp_if_needed(Mm& mm, const Vma& vma, std::uint64_t addr, std::uint64_t ptep, unsigned nr,
                                       Desc ptent, const ZapDetails& details);
    long change_pte_range(MmuGather& tlb, Mm& mm, const Vma& vma, std::uint64_t table, std::uint64_t addr,
                          std::uint64_t end, unsigned cp_flags);
    // Copies the entries of [addr, end) from the parent's PTE table `src_table`.
    void copy_pte_range(Mm& dst, Mm& src, const Vma& src_vma, std::uint64_t src_table, std::uint64_t addr,
                        std::uint64_t end);
    // zap_huge_pmd / change_huge_pmd / copy_huge_pmd / madvise_free_huge_pmd / aging of a
    // whole PMD leaf at `haddr`.
    void zap_huge_pmd(MmuGather& tlb, Mm& mm, const Vma& vma, std::uint64_t pmd_entry, std::uint64_t haddr);
    long change_huge_pmd(MmuGather& tlb, Mm& mm, const Vma& vma, std::uint64_t pmd_entry, std::uint64_t haddr,
                         unsigned cp_flags);
    void copy_huge_pmd(Mm& dst, std::uint64_t pmd_entry, std::uint64_t haddr);
    void madvise_free_huge_pmd(MmuGather& tlb, Mm& mm, std::uint64_t pmd_entry, std::uint64_t haddr);
    void folio_mark_lazyfree(Rmap::Info& info);
    void pmdp_clear_flush_young(Mm& mm, std::uint64_t pmd_entry, std::uint64_t haddr);
    // flush_tlb_batched_pending.
    void flush_tlb_batched_pending(Mm& mm);
    // The VMAs covering [start, end) without a hole; false when a gap is found (callers
    // answer ENOMEM, after processing what precedes the gap as Linux does).
    bool covered(const Mm& mm, std::uint64_t start, std::uint64_t end) const;
    bool aligned(std::uint64_t addr) const { return (addr & (m_k.geo.page_size() - 1)) == 0; }
    std::uint64_t page_align(std::uint64_t len) const { return (len + m_k.geo.page_size() - 1) & ~(m_k.geo.page_size() - 1); }
    MmuGather make_gather(const Mm& mm, bool fullmm) {
        return MmuGather(m_k.flush, mm, fullmm, m_k.geo.page_size(), m_k.geo.pmd_size(), &m_pages);
    }
    void remap_pfn_range(Mm& mm, const Vma& vma);

    KernelContext& m_k;
    PageAlloc& m_pages;
    unsigned m_next_shmem = 0;
    std::map<std::string, unsigned> m_trace_files;  // traced file paths -> file ids
};

}  // namespace mmusim::kernel
