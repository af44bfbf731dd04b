// Kernel parameters resolved from the config (`kernel.*`) and the platform features the
// kernel code consults (system_supports_*()).
#pragma once

#include <cstdint>
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

struct KernelConfig {
    KernelVersion version;
    arch::Granule granule = arch::Granule::K4;
    bool contpte = true;                 // CONFIG_ARM64_CONTPTE: false = PTE_CONT never set
    std::vector<unsigned> mthp_orders;   // enabled anonymous folio orders below PMD order
    bool zero_page = true;               // read faults on anonymous memory map the zero page
    bool auto_layout = true;             // workload layout "auto": one VMA over all user addresses
    std::uint64_t memory_bytes = 0;      // physical memory managed by the folio allocator
    LazyMmuVariant lazy_mmu = LazyMmuVariant::D;  // resolved from kernel.lazy_mmu / the version
    bool kpti = false;                   // arm64_kernel_unmapped_at_el0: user TLBIs doubled
    bool debug_pagealloc = false;        // CONFIG_DEBUG_PAGEALLOC: page alloc/free remaps the linear map
    std::uint64_t fault_around_bytes = 65536;  // fault_around_bytes (file read faults)
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
