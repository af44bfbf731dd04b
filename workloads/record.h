// One memory operation of a workload thread, as a trace records it.
#pragma once

#include <cstdint>

namespace mmusim::workloads {

// The kind of a trace record. Modify (lackey `M`, a read-modify-write) is one store request
// for the MMU (spec/mmu.md §3); it is kept apart so that readers can report what they saw.
// Kernel is not an access: the thread makes a kernel call (a system call of a script), whose
// request the source holds; `va` is then its index for Source::syscall(). Checkpoint is not
// an access either: a script's `checkpoint` op (`va`: its index in Script::checkpoints), where
// the run records the state of every page of the script's regions; it takes no time and is
// not counted as a record.
enum class AccessKind : std::uint8_t { Ifetch = 0, Load = 1, Store = 2, Modify = 3, Kernel = 4, Checkpoint = 5 };

// Record flags.
inline constexpr std::uint8_t kRecordKernelAccess = 1;  // the kernel's access to a user buffer of a system call

struct Record {
    std::uint64_t va = 0;
    std::uint32_t size = 0;  // bytes, at least 1 (0 for Kernel records)
    AccessKind kind = AccessKind::Load;
    std::uint8_t process = 0;  // the process whose address space the access uses (0: the first)
    std::uint8_t flags = 0;    // kRecordKernelAccess
};

}  // namespace mmusim::workloads
