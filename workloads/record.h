// One memory operation of a workload thread, as a trace records it.
#pragma once

#include <cstdint>

namespace mmusim::workloads {

// The kind of a trace record. Modify (lackey `M`, a read-modify-write) is one store request
// for the MMU (spec/mmu.md §3); it is kept apart so that readers can report what they saw.
enum class AccessKind : std::uint8_t { Ifetch = 0, Load = 1, Store = 2, Modify = 3 };

struct Record {
    std::uint64_t va = 0;
    std::uint32_t size = 0;  // bytes, at least 1
    AccessKind kind = AccessKind::Load;
};

}  // namespace mmusim::workloads
