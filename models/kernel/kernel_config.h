// Kernel parameters resolved from the config (`kernel.*`) and the platform features the
// kernel code consults (system_supports_*()).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "models/arch/granule.h"
#include "models/kernel/kernel_version.h"
#include "models/kernel/lazy_mmu_variant.h"

namespace mmusim::kernel {

// Cycle costs of kernel work from the platform cost table (costs are data, never literals
// in model code). PTE reads and writes cost the memory latency of the PhysMem transaction;
// these are the extra costs of everything else.
struct KernelCosts {
    std::uint64_t fault_entry_exit = 0;  // exception entry, handler dispatch and return
    std::uint64_t folio_alloc = 0;       // one allocation from the buddy allocator
    std::uint64_t zero_per_4k = 0;       // clearing 4 KiB of a new folio
    std::uint64_t copy_per_4k = 0;       // copying 4 KiB into a new folio (page migration)
    std::uint64_t swap_out_per_4k = 0;   // writing 4 KiB to the swap device (swap_writepage)
    std::uint64_t swap_in_per_4k = 0;    // reading 4 KiB from the swap device (swap_read_folio)
    std::uint64_t table_alloc = 0;       // allocating and clearing a page-table page
    std::uint64_t atomic = 0;            // extra cost of an X or C over a plain access
    std::uint64_t tlbi_local = 0;
    std::uint64_t tlbi_broadcast = 0;
    // Completion of a broadcast TLBI: the DSB.ISH that waits for it pays this for every other
    // core the maintenance had to reach.
    std::uint64_t tlbi_broadcast_per_core = 0;
    std::uint64_t dsb_ishst = 0;
    std::uint64_t dsb_ish = 0;
    std::uint64_t dsb_nshst = 0;
    std::uint64_t dsb_nsh = 0;
    std::uint64_t isb = 0;
    std::uint64_t syscall_entry_exit = 0;  // system call entry and return
    std::uint64_t context_switch = 0;      // switching to another process
};

// When the kernel tries to fold a block of entries into one contiguous mapping
// (kernel.fold_policy). Linux's rule is the default; the others are heuristics to compare.
enum class FoldPolicy : std::uint8_t {
    Linux,       // a one-entry store at the block's last entry (spec/kernel.md §5.3)
    AnyEntry,    // a one-entry store at any entry whose PFN sits at the same place in its block
    AfterBatch,  // Linux's rule, and also after set_ptes(nr > 1) leaves a block partly written
    Scanner,     // Linux's rule, plus a background pass that folds eligible blocks (khugepaged-like)
    Never,       // no fold at all: CONT only from set_ptes batches that cover whole blocks
};

const char* fold_policy_name(FoldPolicy p);
bool parse_fold_policy(const std::string& name, FoldPolicy& out);

// The background fold scanner of FoldPolicy::Scanner.
struct FoldScannerConfig {
    std::uint64_t interval_cycles = 10'000'000;  // time between two passes
    std::uint64_t pages_per_pass = 4096;         // PTE slots a pass advances over (khugepaged pages_to_scan)
    std::uint64_t entry_cycles = 2;              // checking one entry read, on top of the read itself
};

struct KernelConfig {
    KernelVersion version;
    arch::Granule granule = arch::Granule::K4;
    bool contpte = true;                 // CONFIG_ARM64_CONTPTE: false = PTE_CONT never set
    // Anonymous folio orders below PMD order by their sysfs hugepages-<size>kB/enabled mode:
    // `always` (kernel.mthp), `madvise` (kernel.mthp_madvise: VM_HUGEPAGE VMAs only) and
    // `inherit` (kernel.mthp_inherit: follows kernel.thp). Each sorted, no order in two lists.
    std::vector<unsigned> mthp_orders;
    std::vector<unsigned> mthp_madvise_orders;
    std::vector<unsigned> mthp_inherit_orders;
    FoldPolicy fold_policy = FoldPolicy::Linux;
    FoldScannerConfig fold_scanner;
    // Chance that one buddy order above 0 is not available (kernel.fragmentation): an
    // allocation of order k fails with probability 1 - (1 - f)^k and falls back.
    double fragmentation = 0.0;
    // Folio order of page-cache reads for executable file mappings and of instruction-fetch
    // faults on anonymous memory (kernel.exec_folios); -1: none (the file's own order / mTHP).
    int exec_folio_order = -1;
    // Folio order of page-cache reads of the files a trace maps (kernel.file_folios).
    unsigned file_folio_order = 0;
    std::uint64_t seed = 1;              // seeds the allocation-failure draws
    bool zero_page = true;               // read faults on anonymous memory map the zero page
    bool auto_layout = true;             // workload layout "auto": one VMA over all user addresses
    std::uint64_t memory_bytes = 0;      // physical memory managed by the folio allocator
    LazyMmuVariant lazy_mmu = LazyMmuVariant::D;  // resolved from kernel.lazy_mmu / the version
    bool kpti = false;                   // arm64_kernel_unmapped_at_el0: user TLBIs doubled
    bool debug_pagealloc = false;        // CONFIG_DEBUG_PAGEALLOC: page alloc/free remaps the linear map
    std::uint64_t fault_around_bytes = 65536;  // fault_around_bytes (file read faults)
    std::uint64_t swap_bytes = 0;        // size of the swap device (kernel.swap.size; 0: no swap)
    // The swap device is SWP_SYNCHRONOUS_IO (zram): swap-in may skip the swap cache and, from
    // v6.13, read large folios. False: a block device, swapped in page by page.
    bool swap_synchronous = true;
    enum class Thp : std::uint8_t { Never, Always, Madvise } thp = Thp::Never;
    // Platform features.
    unsigned cores = 1;                  // cores sharing the address spaces
    bool tlbirange = false;
    bool bbml2_noabort = false;
    bool hafdbs = true;                  // hardware access flag and dirty state
    bool repeat_tlbi = false;            // ARM64_WORKAROUND_REPEAT_TLBI
    bool erratum_2645198 = false;        // ARM64_WORKAROUND_2645198 (X -> NX needs BBM)
    KernelCosts costs;
};

}  // namespace mmusim::kernel
