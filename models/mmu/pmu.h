// Counters named after the Arm PMU events (spec/mmu.md §4).
#pragma once

#include <cstdint>

namespace mmusim::mmu {

struct PmuCounters {
    std::uint64_t L1D_TLB = 0;
    std::uint64_t L1D_TLB_REFILL = 0;
    std::uint64_t L1I_TLB = 0;
    std::uint64_t L1I_TLB_REFILL = 0;
    std::uint64_t L2D_TLB = 0;
    std::uint64_t L2D_TLB_REFILL = 0;
    std::uint64_t DTLB_WALK = 0;
    std::uint64_t ITLB_WALK = 0;
    std::uint64_t INST_RETIRED = 0;

    PmuCounters& operator+=(const PmuCounters& o) {
        L1D_TLB += o.L1D_TLB; L1D_TLB_REFILL += o.L1D_TLB_REFILL;
        L1I_TLB += o.L1I_TLB; L1I_TLB_REFILL += o.L1I_TLB_REFILL;
        L2D_TLB += o.L2D_TLB; L2D_TLB_REFILL += o.L2D_TLB_REFILL;
        DTLB_WALK += o.DTLB_WALK; ITLB_WALK += o.ITLB_WALK; INST_RETIRED += o.INST_RETIRED;
        return *this;
    }
};

// The PMU events attributed to one kind of mapping (mmu.by_vma): those of translations of
// VAs that a VMA of that kind holds.
struct VmaTlbEvents {
    std::uint64_t L1D_TLB_REFILL = 0;
    std::uint64_t L1I_TLB_REFILL = 0;
    std::uint64_t DTLB_WALK = 0;
    std::uint64_t ITLB_WALK = 0;

    VmaTlbEvents& operator+=(const VmaTlbEvents& o) {
        L1D_TLB_REFILL += o.L1D_TLB_REFILL; L1I_TLB_REFILL += o.L1I_TLB_REFILL;
        DTLB_WALK += o.DTLB_WALK; ITLB_WALK += o.ITLB_WALK;
        return *this;
    }
};

// Counters of the MMU that are not PMU events.
struct MmuStats {
    std::uint64_t tlb_conflicts = 0;          // lookups that found more than one entry
    std::uint64_t walk_descriptor_reads = 0;  // descriptors read from memory (walks and dirty updates)
    std::uint64_t walk_cycles = 0;            // walk-cache lookups, descriptor reads and A/D updates
    std::uint64_t hw_access_flag_updates = 0;
    std::uint64_t hw_dirty_updates = 0;
    std::uint64_t faults = 0;                 // attempts that ended in a fault
    std::uint64_t tlbi_received = 0;          // TLBI instructions that reached this MMU
    // Multi-core runs, counted while another core is inside the kernel half-way through an
    // operation: TLB hits whose descriptor in memory is now invalid, maps another address or
    // changed its contiguity, and stores allowed by an entry whose descriptor no longer allows
    // them (fork's write-protected entries before its deferred flush_tlb_mm).
    std::uint64_t stale_tlb_hits = 0;
    std::uint64_t stale_tlb_writes = 0;
    std::uint64_t walk_cache_lookups = 0;     // walks that looked up the walk cache
    std::uint64_t walk_cache_hits = 0;        // walks that started below the root
    std::uint64_t walk_cache_invalidated = 0; // walk-cache entries removed by TLBIs
    // Descriptor reads by the cache level that served them (all 0 without a cache model).
    std::uint64_t walk_reads_l1d = 0;
    std::uint64_t walk_reads_l2 = 0;
    std::uint64_t walk_reads_llc = 0;
    std::uint64_t walk_reads_dram = 0;

    MmuStats& operator+=(const MmuStats& o) {
        tlb_conflicts += o.tlb_conflicts;
        walk_descriptor_reads += o.walk_descriptor_reads;
        walk_cycles += o.walk_cycles;
        hw_access_flag_updates += o.hw_access_flag_updates;
        hw_dirty_updates += o.hw_dirty_updates;
        faults += o.faults;
        tlbi_received += o.tlbi_received;
        stale_tlb_hits += o.stale_tlb_hits;
        stale_tlb_writes += o.stale_tlb_writes;
        walk_cache_lookups += o.walk_cache_lookups;
        walk_cache_hits += o.walk_cache_hits;
        walk_cache_invalidated += o.walk_cache_invalidated;
        walk_reads_l1d += o.walk_reads_l1d;
        walk_reads_l2 += o.walk_reads_l2;
        walk_reads_llc += o.walk_reads_llc;
        walk_reads_dram += o.walk_reads_dram;
        return *this;
    }
};

}  // namespace mmusim::mmu
