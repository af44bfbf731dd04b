// Stage-1 table walker: reads real descriptors level by level through a DescriptorPort,
// decodes table, block, page and invalid descriptors, applies the contiguous hint, and
// performs the FEAT_HAFDBS access-flag and dirty updates on the one descriptor it used.
// With a walk cache, a walk starts below the deepest cached table descriptor and caches the
// valid table descriptors it reads on the way (also when the walk then faults).
#pragma once

#include <cstdint>

#include "models/arch/fault.h"
#include "models/arch/granule.h"
#include "models/mmu/descriptor_port.h"
#include "models/mmu/walk_cache.h"

namespace mmusim::mmu {

struct WalkerConfig {
    arch::Granule granule = arch::Granule::K4;
    bool honour_cont = true;  // false: hardware ignores PTE_CONT
    bool hafdbs = true;       // hardware access flag and dirty state management
};

struct WalkResult {
    arch::FaultKind fault = arch::FaultKind::None;
    unsigned level = 0;            // level of the leaf, or of the faulting descriptor
    std::uint64_t desc = 0;        // leaf descriptor (after any hardware update)
    std::uint64_t desc_pa = 0;     // its physical address
    std::uint64_t size = 0;        // translation size: level block size, or CONT block size
    std::uint64_t region_va = 0;   // naturally aligned region of `size` containing the VA
    std::uint64_t region_pa = 0;
    unsigned reads = 0;            // descriptors read
    bool walk_cache_lookup = false;  // the walk cache was looked up (it is configured)
    int walk_cache_level = -1;     // level of the cached table descriptor the walk started from; -1 = none
    bool af_updated = false;       // the hardware set AF in the leaf
    bool dirty_updated = false;    // the hardware cleared RDONLY in the leaf (DBM dirty)
};

// Outcome of the access-flag / dirty update of one leaf descriptor.
struct HwUpdate {
    arch::FaultKind fault = arch::FaultKind::None;
    std::uint64_t desc = 0;        // the descriptor as updated (or as found, if nothing was needed)
    bool af_updated = false;       // this update set AF
    bool dirty_updated = false;    // this update cleared RDONLY
};

class Walker {
public:
    // `walk_cache` (optional, owned by the caller) is looked up and filled by every walk.
    Walker(const WalkerConfig& config, DescriptorPort& port, WalkCache* walk_cache = nullptr);

    // A walk of the address space with table base `ttbr` and ASID `asid` (the walk cache tag).
    WalkResult walk(std::uint64_t va, std::uint64_t ttbr, std::uint16_t asid, arch::Access access, sc_core::sc_time& delay);
    WalkResult walk(std::uint64_t va, std::uint64_t ttbr, arch::Access access, sc_core::sc_time& delay) {
        return walk(va, ttbr, 0, access, delay);
    }

    // Hardware dirty update for a store through a cached writable-clean entry of `level`:
    // re-reads the descriptor at `desc_pa` and clears RDONLY (setting AF too if it was aged
    // meanwhile) only while the descriptor is still a valid leaf that permits the store. One
    // that lost DBM (write-protected by the kernel, e.g. by fork or mprotect, before its TLBI)
    // is a permission fault, one that became invalid or a table a translation fault; neither
    // is written.
    HwUpdate set_dirty(std::uint64_t desc_pa, unsigned level, sc_core::sc_time& delay);

    const WalkerConfig& config() const { return m_config; }

private:
    // Checks the leaf `desc` (read from `desc_pa`, at `level`) for `access` and performs the
    // hardware access-flag and dirty updates the access needs, as one compare-and-swap. When
    // the descriptor changed since it was read (another agent wrote it), the new value is
    // checked again from the start: the update is applied only to a descriptor that still
    // allows it, never blindly to whatever was found.
    HwUpdate update(std::uint64_t desc_pa, std::uint64_t desc, unsigned level, arch::Access access,
                    sc_core::sc_time& delay);

    WalkerConfig m_config;
    const arch::Geometry& m_geo;
    DescriptorPort& m_port;
    WalkCache* m_walk_cache;                // null or not enabled: every walk starts at the root
    sc_core::sc_time m_walk_cache_latency;  // per lookup
};

}  // namespace mmusim::mmu
