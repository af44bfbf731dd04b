// Counters of the kernel model (spec/mmu.md §5 "kernel").
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>

#include "models/arch/tlbi.h"
#include "models/kernel/mm.h"

namespace mmusim::kernel {

enum class Barrier : std::uint8_t { DsbIshst, DsbIsh, DsbNshst, DsbNsh, Isb, Count };

inline const char* barrier_name(Barrier b) {
    switch (b) {
        case Barrier::DsbIshst: return "DSB.ISHST";
        case Barrier::DsbIsh: return "DSB.ISH";
        case Barrier::DsbNshst: return "DSB.NSHST";
        case Barrier::DsbNsh: return "DSB.NSH";
        case Barrier::Isb: return "ISB";
        case Barrier::Count: break;
    }
    return "?";
}

// The event counts of the kernel operations of one kind (spec/kernel.md event names).
struct OpStats {
    std::uint64_t calls = 0;
    std::map<std::string, std::uint64_t> results;  // system calls: "0" or the errno name
    std::uint64_t R = 0, W = 0, X = 0, C = 0;
    std::uint64_t converts = 0, folds = 0, unfolds = 0;
    std::array<std::uint64_t, arch::kTlbiOpCount> tlbi{};
    std::uint64_t tlbi_local = 0, tlbi_broadcast = 0;
    std::array<std::uint64_t, static_cast<std::size_t>(Barrier::Count)> barriers{};
    std::uint64_t lazy_deferred = 0;
    std::uint64_t cycles = 0;
};

// The counters of one kind of mapping (kernel.by_vma): faults whose VMA is of that kind, and
// the folios those faults allocated, by size in bytes.
struct VmaClassStats {
    std::uint64_t faults = 0;
    std::map<std::uint64_t, std::uint64_t> folios_by_size;
};

// Pages mapped at the PTE level (a PMD leaf as its base pages) in one kind of mapping, and
// those of them mapped with PTE_CONT: a census of the page tables, not an event count.
struct MappedPages {
    std::uint64_t pages = 0;
    std::uint64_t cont_pages = 0;
};

struct KernelStats {
    // Faults taken, by the MMU's fault class, and by the handler path that resolved them.
    std::uint64_t faults_total = 0;
    std::map<std::string, std::uint64_t> faults_by_kind;
    std::map<std::string, std::uint64_t> faults_by_handler;
    // Folios allocated, by size in bytes.
    std::map<std::uint64_t, std::uint64_t> folios_by_size;
    // Large anonymous folios allocated by a fault (mTHP sizes and the PMD size), by size in
    // bytes: the anon_fault_alloc statistic of hugepages-<size>kB/stats.
    std::map<std::uint64_t, std::uint64_t> anon_fault_alloc_by_size;
    // Large allocations that failed (kernel.fragmentation) and fell back, by the size asked for.
    std::map<std::uint64_t, std::uint64_t> alloc_fallbacks_by_size;
    // contpte engine.
    std::uint64_t fold_attempts = 0;  // __contpte_try_fold entered (cheap pre-check passed)
    std::uint64_t folds = 0;
    std::uint64_t unfolds = 0;
    std::uint64_t converts = 0;
    std::uint64_t blocks_mapped_cont = 0;  // blocks written with PTE_CONT by contpte_set_ptes
    std::uint64_t set_pte_on_cont_warnings = 0;  // set_pte() over a folded entry (WARN_ON_ONCE)
    // The background fold pass of fold_policy "scanner".
    std::uint64_t scan_passes = 0;
    std::uint64_t scan_blocks = 0;    // blocks looked at (at least their first entry read)
    std::uint64_t scan_entries = 0;   // entries read
    std::uint64_t scan_folds = 0;     // blocks folded by the pass (also counted in folds)
    std::uint64_t scan_cycles = 0;    // time of the passes
    // PTE operations (kernel.md event names).
    std::uint64_t pte_R = 0, pte_W = 0, pte_X = 0, pte_C = 0;
    // Upper-level table traffic of the kernel (not PTE events).
    std::uint64_t table_reads = 0, table_writes = 0, tables_allocated = 0, tables_freed = 0;
    std::array<std::uint64_t, arch::kTlbiOpCount> tlbi{};
    std::uint64_t tlbi_local = 0, tlbi_broadcast = 0;
    std::array<std::uint64_t, static_cast<std::size_t>(Barrier::Count)> barriers{};
    std::uint64_t debug_pagealloc_updates = 0;  // linear-map updates by DEBUG_PAGEALLOC
    std::uint64_t uffd_markers_installed = 0;
    std::uint64_t huge_pmd_splits = 0;        // PMD leaves split or cleared for PTEs (THP_SPLIT_PMD)
    std::uint64_t mremap_pmds_moved = 0;      // mremap moved a whole PTE table or PMD leaf (move_normal_pmd, move_huge_pmd)
    std::uint64_t huge_pmd_mapped = 0;        // huge pfn map PMDs inserted by the driver
    std::uint64_t thp_collapse_alloc = 0;     // THPs made by MADV_COLLAPSE (THP_COLLAPSE_ALLOC)
    std::uint64_t thp_fault_alloc = 0;        // PMD-sized anonymous folios mapped by a fault (THP_FAULT_ALLOC)
    std::uint64_t thp_fault_fallback = 0;     // THP faults that fell back to PTEs (THP_FAULT_FALLBACK)
    std::uint64_t thp_zero_page_mapped = 0;   // read faults that mapped the huge zero folio
    std::uint64_t uffd_events = 0;            // faults delivered to the userfaultfd monitor
    std::uint64_t uffd_wp_async_resolved = 0; // async uffd-wp faults resolved by the kernel
    std::uint64_t pagecache_reads = 0;        // folios read into the page cache
    std::uint64_t reclaim_aged = 0;  // aging calls (entries or batches)
    std::uint64_t madvise_free_skipped = 0;  // MADV_FREE left folios alone (shared, or dirty and shared)
    std::uint64_t folio_splits = 0;          // large anonymous folios split to order 0 (split_folio)
    std::uint64_t gather_batch_pages = 0;    // mmu_gather batch pages allocated (tlb_next_batch)
    std::uint64_t gather_forced_flushes = 0; // zap flushes before the end of a VMA (force_flush)
    std::uint64_t folios_migrated = 0;       // folios moved to a new folio by page migration
    std::uint64_t pages_migrated = 0;        // their base pages (the folio sizes summed)
    std::uint64_t migrate_skipped = 0;       // folios migration left alone (mapped by another process)
    // Swap (vmscan.cpp, fault_swap.cpp), after /proc/vmstat and the per-size mTHP counters.
    std::uint64_t swap_pages_out = 0;        // base pages written to swap (pswpout)
    std::uint64_t swap_pages_in = 0;         // base pages read from swap (pswpin)
    std::map<std::uint64_t, std::uint64_t> swap_out_by_size;  // folios written whole, by size (swpout, thp_swpout)
    std::map<std::uint64_t, std::uint64_t> swap_in_by_size;   // folios read by do_swap_page, by size (swpin)
    std::uint64_t swap_out_fallback = 0;     // large folios split to swap out (swpout_fallback; every mTHP before v6.10)
    std::uint64_t swap_full = 0;             // folios reclaim left in memory: no free swap slots
    std::uint64_t lazyfreed = 0;             // MADV_FREE'd base pages reclaim discarded (pglazyfreed)
    std::uint64_t lazyfree_kept = 0;         // base pages of MADV_FREE'd folios written again, kept (swap-backed again)
    std::uint64_t cycles = 0;  // kernel time, all handlers
    // Faults and their folios by the kind of the faulting VMA (faults outside every VMA are in
    // none), indexed by VmaClass.
    std::array<VmaClassStats, kVmaClassCount> by_vma{};
    // The same events per operation kind: "fault", "mmap", "mprotect", "madvise(dontneed)"...
    std::map<std::string, OpStats> by_op;
    std::uint64_t context_switches = 0;
    // Multi-core interplay (kernel.smp in the statistics).
    std::uint64_t sync_points = 0;          // waits at a DSB so that other cores catch up
    std::uint64_t lock_waits = 0;           // calls that found another core inside the kernel
    std::uint64_t lock_wait_cycles = 0;     // time those calls waited
    std::uint64_t lockless_none = 0;        // lockless reads at fault entry that found a cleared entry mid-operation
    std::uint64_t lockless_retries = 0;     // lockless reads that found an inconsistent block and read again
    std::uint64_t migration_waits = 0;      // faults whose entry was a migration entry: they wait for the migration
    std::uint64_t threads_spawned = 0;
};

}  // namespace mmusim::kernel
