// What a system call of a trace means for the simulator: the kernel calls that change the
// address space (mmap, munmap, mprotect, madvise, mremap, brk) as kernel::Syscall requests,
// and the kernel's own accesses to the call's user buffers (a read filling its buffer, a
// stat writing its struct) as records. traces/README.md lists the calls.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "models/kernel/syscall.h"
#include "workloads/record.h"
#include "workloads/trace_events.h"

namespace mmusim::workloads {

struct TranslatedSyscall {
    // Each with traced = true, traced_result, origin and process 0. A call that failed in the
    // trace is still here: the kernel counts it under its result and does not apply it.
    std::vector<kernel::Syscall> calls;
    // Kernel accesses (flags kRecordKernelAccess), one per buffer, in the order the kernel
    // makes them; none for a call that failed.
    std::vector<Record> accesses;
};

// The sizes of the structs the kernel writes (sizeof on the trace's architecture).
std::uint32_t stat_size(TraceArch arch);  // struct stat: arm64 128, x86_64 144

// Translates one call. `arch` chooses the struct sizes (Unknown is taken as x86_64, whose
// valgrind traces carry no @trace line); names are those of traces/README.md (valgrind's
// "sys_" prefix is allowed). `origin` ("FILE:LINE") goes into each request and into errors.
// Throws WorkloadError for what the model cannot replay: a successful mmap whose address is
// not page aligned, an mmap of a file without its path in an arm64 trace, a successful
// madvise whose advice the model does not implement.
TranslatedSyscall translate_trace_syscall(const TraceSyscall& call, TraceArch arch, const std::string& origin);

// Whether the translation reads the arguments of the call named `name` (so a reader can
// insist that they are numbers).
bool trace_syscall_uses_args(std::string_view name);

}  // namespace mmusim::workloads
