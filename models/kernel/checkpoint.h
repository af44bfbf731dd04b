// Checkpoints of a workload script (`{"op": "checkpoint"}`): at each one the run records the
// state of every page of the script's regions in every running process, read from the page
// tables in memory without counting (no time, no events), and a few counters since the
// start, as /proc/<pid>/pagemap, /proc/kpageflags and the mTHP statistics show them on Linux.
// `mmusim run --checkpoints FILE` writes them; scripts/linux-check compares them with the
// states read from the page tables of a real kernel running the same script.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "models/arch/descriptor.h"

namespace mmusim::kernel {

class Kernel;

// What a page's leaf entry holds.
enum class EntryKind : std::uint8_t {
    None,       // no entry (0, or no table below)
    Page,       // a present page: valid, or PROT_NONE (present-invalid)
    Swap,       // a swap entry
    Migration,  // a migration entry
    Marker,     // a PTE marker (uffd-wp on an unpopulated entry)
};
const char* entry_kind_name(EntryKind kind);

// The write permission of a present entry: no PTE_WRITE (DBM); writable and clean (DBM with
// AP[2] read-only: the first store sets dirty in hardware); writable and dirty.
enum class WriteState : std::uint8_t { ReadOnly, Clean, Dirty };
const char* write_state_name(WriteState state);

struct PageState {
    std::uint64_t va = 0;
    unsigned region = 0;       // index into the checkpoint's regions
    arch::Desc pte = 0;        // the leaf descriptor (level 3, or the level-2 block)
    EntryKind entry = EntryKind::None;
    // Page entries only:
    unsigned level = 3;        // 3: a page descriptor; 2: a PMD block (a PMD-mapped THP)
    bool prot_none = false;    // present but inaccessible (PROT_NONE, a NUMA hinting entry)
    WriteState write = WriteState::ReadOnly;
    bool af = false;
    bool exec = false;         // executable at EL0 (UXN clear)
    bool special = false;      // PTE_SPECIAL (the zero page, pfn maps)
    bool uffd_wp = false;      // PTE_UFFD_WP
    bool cont = false;         // PTE_CONT
    bool zero = false;         // maps the zero page or the huge zero folio
    std::uint64_t folio_size = 0;   // bytes of its folio; 0: none (zero page, device memory)
    std::uint64_t folio_index = 0;  // the page's index in its folio
};

// Decodes a leaf descriptor at `level` (3 or 2) into a page state; the folio and the zero
// page are filled in by the caller, who knows the physical memory.
PageState decode_leaf(arch::Desc desc, unsigned level);

struct CheckpointRegion {
    std::string name;
    std::uint64_t addr = 0;
    std::uint64_t size = 0;
};

struct CheckpointCounters {
    std::uint64_t faults = 0;                                  // page faults handled
    std::map<std::uint64_t, std::uint64_t> anon_fault_alloc;   // large anonymous folios a fault allocated, by size
    std::map<std::uint64_t, std::uint64_t> anon_fault_fallback;  // large allocations that fell back, by size asked
    std::uint64_t split = 0;                                   // large folios split
};

struct CheckpointProcess {
    unsigned id = 0;
    std::vector<PageState> pages;  // every page of every region, in region order
};

struct Checkpoint {
    unsigned op = 0;  // which checkpoint op of the script
    CheckpointCounters counters;
    std::vector<CheckpointProcess> processes;  // running processes by id
};

// Collects the checkpoints of one run.
class CheckpointLog {
public:
    explicit CheckpointLog(std::vector<CheckpointRegion> regions) : m_regions(std::move(regions)) {}

    // Records checkpoint op `op` from the kernel's current state.
    void record(Kernel& kernel, unsigned op);

    const std::vector<CheckpointRegion>& regions() const { return m_regions; }
    const std::vector<Checkpoint>& taken() const { return m_taken; }

private:
    std::vector<CheckpointRegion> m_regions;
    std::vector<Checkpoint> m_taken;
};

}  // namespace mmusim::kernel
