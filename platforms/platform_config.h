// A hardware platform as the config describes it (spec/config.md "Platform objects").
#pragma once

#include <cstdint>
#include <string>

#include "models/kernel/kernel_config.h"
#include "models/memory/cache_hierarchy.h"
#include "models/mmu/tlb_config.h"
#include "models/mmu/walk_cache.h"

namespace mmusim::platforms {

struct Features {
    bool hafdbs = true;          // FEAT_HAFDBS: hardware access flag and dirty state
    bool tlbirange = false;      // FEAT_TLBIRANGE: range TLBIs
    bool bbml2_noabort = false;  // BBML2 without conflict aborts: converts skip their TLBI
    bool honour_cont = true;     // TLBs hold one entry for a contiguous block
    bool repeat_tlbi = false;     // ARM64_WORKAROUND_REPEAT_TLBI
    bool erratum_2645198 = false; // ARM64_WORKAROUND_2645198
    bool conflict_abort = true;  // a TLB conflict raises an abort; false: use the smallest entry
};

struct PlatformConfig {
    std::string name;
    std::string description;
    unsigned cores = 1;
    Features features;
    mmu::TlbConfig l1i, l1d, l2;
    mmu::WalkCacheConfig walk_cache;      // per core
    memory::CacheHierarchyConfig caches;  // what the walkers' descriptor reads go through (cores filled in by the Platform)
    std::uint64_t memory_size = 0;     // bytes of physical memory
    std::uint64_t memory_latency = 0;  // cycles per page-table access of the kernel (and of the walker without caches)
    std::uint64_t quantum = 0;         // cycles a core may run ahead before synchronising
    std::uint64_t cpi_milli = 1000;    // base cycles per instruction, in thousandths
    kernel::KernelCosts costs;
};

}  // namespace mmusim::platforms
