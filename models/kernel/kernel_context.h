// The parts of the kernel model that operations share: configuration, counters, page-table
// access, TLB maintenance, lazy MMU, allocators, rmap and page cache. Handed by reference to
// the fault handler and the mm operations so that each is one concept in its own file.
#pragma once

#include <systemc>

#include "models/arch/granule.h"
#include "models/kernel/folio_allocator.h"
#include "models/kernel/kernel_config.h"
#include "models/kernel/kernel_stats.h"
#include "models/kernel/lazy_mmu.h"
#include "models/kernel/page_cache.h"
#include "models/kernel/pgtable.h"
#include "models/kernel/pgtable_alloc.h"
#include "models/kernel/pte_memory.h"
#include "models/kernel/rmap.h"
#include "models/kernel/swap.h"
#include "models/kernel/tlb_flush.h"

namespace mmusim::kernel {

struct KernelContext {
    const KernelConfig& config;
    const arch::Geometry& geo;
    KernelStats& stats;
    PteMemory& mem;
    TlbFlush& flush;
    LazyMmu& lazy;
    Pgtable& pgtable;
    PgtableAlloc& tables;
    FolioAllocator& folios;
    Rmap& rmap;
    PageCache& page_cache;
    SwapInfo& swap;
    sc_core::sc_time& delay;
    std::uint64_t zero_pfn = 0;       // the shared zero page
    std::uint64_t huge_zero_pfn = 0;  // the huge zero folio (PMD sized), reserved on first use; 0: none yet
    std::uint64_t device_pfn = 0;     // first PFN of device memory (pfn maps), above RAM
    // While a fault is handled: the kind of its VMA, so that the folios it allocates are
    // counted under it (kernel.by_vma); VmaClass::Count outside a fault.
    VmaClass fault_class = VmaClass::Count;
};

// errno values the system calls answer with.
namespace err {
inline constexpr int kEperm = 1, kEnoent = 2, kEnomem = 12, kEfault = 14, kEbusy = 16, kEexist = 17, kEinval = 22;
const char* name(int e);
}  // namespace err

}  // namespace mmusim::kernel
