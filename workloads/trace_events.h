// What a trace says about its process beyond the memory accesses: the address space at exec
// (`@map` lines) and the system calls in trace order (`@sys` lines of an arm64 capture,
// valgrind's SYSCALL lines of an x86_64 one). traces/README.md gives the line formats.
#pragma once

#include <array>
#include <cstdint>
#include <string>

namespace mmusim::workloads {

// The architecture a trace was recorded on (`@trace ARCH PAGESIZE`; valgrind traces without
// that line are x86_64).
enum class TraceArch : std::uint8_t { Unknown, Arm64, X86_64 };

// One mapping of the initial address space.
struct TraceMapping {
    std::uint64_t start = 0;
    std::uint64_t end = 0;
    bool read = false, write = false, exec = false;
    bool shared = false;
    std::uint64_t offset = 0;  // file offset of `start`
    // The file's path as the process saw it, "[stack]", "[heap]", "[vdso]", "[vvar]", or ""
    // for anonymous memory.
    std::string name;
    std::uint64_t line = 0;    // where it was read, for messages
};

// One system call as the trace recorded it.
struct TraceSyscall {
    std::string name;                  // e.g. "mmap", "brk", "read"
    std::array<std::uint64_t, 6> args{};
    bool returned = true;              // false for exit / exit_group
    std::int64_t result = 0;           // >= 0, or -errno
    std::string path;                  // mmap of a file: the file's path
    std::uint64_t line = 0;            // the trace line (the first line of a two-line form)
};

}  // namespace mmusim::workloads
