#include "workloads/trace_syscalls.h"

#include <cstdint>
#include <cstdio>
#include <limits>

#include "workloads/workload_error.h"

namespace mmusim::workloads {

namespace {

// Linux's mmap flags and mremap/madvise numbers (the same on arm64 and x86_64).
constexpr std::uint64_t kMapTypeMask = 0x0f;  // MAP_SHARED 1, MAP_PRIVATE 2, MAP_SHARED_VALIDATE 3
constexpr std::uint64_t kMapShared = 0x01, kMapSharedValidate = 0x03;
constexpr std::uint64_t kMapFixed = 0x10;
constexpr std::uint64_t kMapAnonymous = 0x20;

// The kernel never moves more than MAX_RW_COUNT bytes in one read or write; a record's size
// is 32 bits.
constexpr std::uint64_t kMaxBuffer = std::numeric_limits<std::uint32_t>::max();

std::string_view plain_name(std::string_view name) {
    if (name.substr(0, 4) == "sys_" && name.size() > 4 && !(name[4] >= '0' && name[4] <= '9')) name.remove_prefix(4);
    return name;
}

struct AdviceName {
    std::uint64_t number;
    const char* name;
    bool modelled;
    kernel::Advice advice;
};

// Linux's MADV_ numbers (include/uapi/asm-generic/mman-common.h).
constexpr AdviceName kAdvices[] = {
    {0, "NORMAL", true, kernel::Advice::Normal},
    {1, "RANDOM", true, kernel::Advice::Random},
    {2, "SEQUENTIAL", true, kernel::Advice::Sequential},
    {3, "WILLNEED", true, kernel::Advice::WillNeed},
    {4, "DONTNEED", true, kernel::Advice::DontNeed},
    {8, "FREE", true, kernel::Advice::Free},
    {9, "REMOVE", false, kernel::Advice::Normal},
    {10, "DONTFORK", true, kernel::Advice::DontFork},
    {11, "DOFORK", true, kernel::Advice::DoFork},
    {12, "MERGEABLE", true, kernel::Advice::Mergeable},
    {13, "UNMERGEABLE", true, kernel::Advice::Unmergeable},
    {14, "HUGEPAGE", true, kernel::Advice::HugePage},
    {15, "NOHUGEPAGE", true, kernel::Advice::NoHugePage},
    {16, "DONTDUMP", true, kernel::Advice::DontDump},
    {17, "DODUMP", true, kernel::Advice::DoDump},
    {18, "WIPEONFORK", true, kernel::Advice::WipeOnFork},
    {19, "KEEPONFORK", true, kernel::Advice::KeepOnFork},
    {20, "COLD", false, kernel::Advice::Normal},
    {21, "PAGEOUT", true, kernel::Advice::PageOut},
    {22, "POPULATE_READ", false, kernel::Advice::Normal},
    {23, "POPULATE_WRITE", false, kernel::Advice::Normal},
    {24, "DONTNEED_LOCKED", false, kernel::Advice::Normal},
    {25, "COLLAPSE", true, kernel::Advice::Collapse},
    {100, "HWPOISON", false, kernel::Advice::Normal},
    {101, "SOFT_OFFLINE", false, kernel::Advice::Normal},
    {102, "GUARD_INSTALL", false, kernel::Advice::Normal},
    {103, "GUARD_REMOVE", false, kernel::Advice::Normal},
};

// Where a call's buffer is and how many bytes the kernel moves through it.
enum class Bytes : std::uint8_t { Result, Stat, Fixed, Arg };

struct BufferAccess {
    const char* name;
    AccessKind kind;     // Store: the kernel writes user memory; Load: it reads it
    unsigned buffer;     // the argument holding the buffer's address
    Bytes bytes;
    std::uint32_t size;  // Fixed: the size; Arg: the argument holding it
    bool optional;       // a null buffer is allowed (and then not accessed)
};

// The kernel's accesses to user memory of the calls whose buffer and size the trace shows
// (traces/README.md, "Kernel accesses to user memory"). Calls that take an iovec or a path
// string are left out: the trace does not show the iovec's contents or the string's length.
constexpr BufferAccess kBufferAccesses[] = {
    {"read", AccessKind::Store, 1, Bytes::Result, 0, false},
    {"pread64", AccessKind::Store, 1, Bytes::Result, 0, false},
    {"write", AccessKind::Load, 1, Bytes::Result, 0, false},
    {"pwrite64", AccessKind::Load, 1, Bytes::Result, 0, false},
    {"getdents64", AccessKind::Store, 1, Bytes::Result, 0, false},
    {"getrandom", AccessKind::Store, 0, Bytes::Result, 0, false},
    {"recvfrom", AccessKind::Store, 1, Bytes::Result, 0, false},
    {"sendto", AccessKind::Load, 1, Bytes::Result, 0, false},
    {"readlinkat", AccessKind::Store, 2, Bytes::Result, 0, false},
    {"readlink", AccessKind::Store, 1, Bytes::Result, 0, false},
    {"getcwd", AccessKind::Store, 0, Bytes::Result, 0, false},
    // getxattr(path, name, value, size): with size 0 it only returns the value's size.
    {"getxattr", AccessKind::Store, 2, Bytes::Result, 0, true},
    {"lgetxattr", AccessKind::Store, 2, Bytes::Result, 0, true},
    {"fgetxattr", AccessKind::Store, 2, Bytes::Result, 0, true},
    {"fstat", AccessKind::Store, 1, Bytes::Stat, 0, false},
    {"newfstatat", AccessKind::Store, 2, Bytes::Stat, 0, false},
    {"stat", AccessKind::Store, 1, Bytes::Stat, 0, false},
    {"lstat", AccessKind::Store, 1, Bytes::Stat, 0, false},
    {"newstat", AccessKind::Store, 1, Bytes::Stat, 0, false},  // valgrind's names on x86_64
    {"newlstat", AccessKind::Store, 1, Bytes::Stat, 0, false},
    {"newfstat", AccessKind::Store, 1, Bytes::Stat, 0, false},
    {"statx", AccessKind::Store, 4, Bytes::Fixed, 256, false},       // struct statx
    {"statfs", AccessKind::Store, 1, Bytes::Fixed, 120, false},      // struct statfs (64-bit)
    {"fstatfs", AccessKind::Store, 1, Bytes::Fixed, 120, false},
    {"clock_gettime", AccessKind::Store, 1, Bytes::Fixed, 16, false},  // struct timespec
    {"uname", AccessKind::Store, 0, Bytes::Fixed, 390, false},       // struct new_utsname
    {"newuname", AccessKind::Store, 0, Bytes::Fixed, 390, false},
    {"pipe2", AccessKind::Store, 0, Bytes::Fixed, 8, false},         // int[2]
    {"pipe", AccessKind::Store, 0, Bytes::Fixed, 8, false},
    // prlimit64(pid, resource, new, old): the new limit is read before the old one is written.
    {"prlimit64", AccessKind::Load, 2, Bytes::Fixed, 16, true},      // struct rlimit64
    {"prlimit64", AccessKind::Store, 3, Bytes::Fixed, 16, true},
    {"connect", AccessKind::Load, 1, Bytes::Arg, 2, false},          // the socket address, addrlen bytes
};

constexpr const char* kAddressSpaceCalls[] = {"mmap", "munmap", "mprotect", "madvise", "mremap", "brk"};

[[noreturn]] void fail(const std::string& origin, const std::string& text) {
    throw WorkloadError(origin + ": " + text);
}

std::string hex(std::uint64_t value) {
    char text[24];
    std::snprintf(text, sizeof text, "0x%llx", static_cast<unsigned long long>(value));
    return text;
}

kernel::Syscall request(kernel::SyscallOp op, const TraceSyscall& call, const std::string& origin) {
    kernel::Syscall s;
    s.op = op;
    s.process = 0;
    s.traced = true;
    s.traced_result = call.result;
    s.origin = origin;
    return s;
}

kernel::Syscall mmap_request(const TraceSyscall& call, TraceArch arch, const std::string& origin) {
    const auto& a = call.args;
    kernel::Syscall s = request(kernel::SyscallOp::Mmap, call, origin);
    const bool ok = call.result >= 0;
    const auto result = static_cast<std::uint64_t>(call.result);
    if (ok && result % 4096 != 0)
        fail(origin, "mmap returned " + hex(result) +
                         ", which is not a multiple of the 4096-byte page; a trace's mmap results are the "
                         "addresses the kernel mapped, always page aligned");
    s.addr = ok ? result : a[0];  // where the real kernel mapped it (a failed call: what was asked)
    s.len = a[1];
    s.prot = static_cast<unsigned>(a[2] & 7);
    const std::uint64_t flags = a[3];
    const std::uint64_t type = flags & kMapTypeMask;
    s.shared = type == kMapShared || type == kMapSharedValidate;
    s.fixed = (flags & kMapFixed) != 0;
    s.file_offset = a[5];
    if ((flags & kMapAnonymous) != 0) {
        s.kind = kernel::MapKind::Anon;
    } else {
        s.kind = kernel::MapKind::File;
        s.file_path = call.path;
        if (s.file_path.empty() && ok && arch == TraceArch::Arm64)
            fail(origin, "an mmap of file descriptor " + std::to_string(static_cast<std::int64_t>(a[4])) +
                             " (flags " + hex(flags) +
                             ", no MAP_ANONYMOUS) has no PATH after its result; an arm64 trace names the file "
                             "of every mmap of a file, as in \"@sys mmap 0 6e3 1 2 4 0 = 5502875000 "
                             "/etc/ld.so.cache\"");
    }
    return s;
}

kernel::Syscall madvise_request(const TraceSyscall& call, const std::string& origin) {
    kernel::Syscall s = request(kernel::SyscallOp::Madvise, call, origin);
    s.addr = call.args[0];
    s.len = call.args[1];
    const std::uint64_t number = call.args[2];
    for (const AdviceName& a : kAdvices) {
        if (a.number != number) continue;
        if (!a.modelled && call.result >= 0)
            fail(origin, "madvise(" + hex(s.addr) + ", " + std::to_string(s.len) + ", MADV_" + a.name + ") succeeded "
                         "in the trace, and the model does not implement MADV_" + a.name +
                         "; the advices it replays are NORMAL, RANDOM, SEQUENTIAL, WILLNEED, DONTNEED, FREE, "
                         "DONTFORK, DOFORK, MERGEABLE, UNMERGEABLE, HUGEPAGE, NOHUGEPAGE, DONTDUMP, DODUMP, "
                         "WIPEONFORK, KEEPONFORK, PAGEOUT and COLLAPSE");
        // A failed call of an advice the model lacks is counted under madvise(normal): the
        // kernel does not apply it either way.
        s.advice = a.advice;
        return s;
    }
    if (call.result >= 0)
        fail(origin, "madvise(" + hex(s.addr) + ", " + std::to_string(s.len) + ", " + std::to_string(number) +
                         ") succeeded in the trace, and " + std::to_string(number) +
                         " is not an advice of Linux that the model knows");
    s.advice = kernel::Advice::Normal;
    return s;
}

}  // namespace

std::uint32_t stat_size(TraceArch arch) { return arch == TraceArch::Arm64 ? 128 : 144; }

bool trace_syscall_uses_args(std::string_view name) {
    name = plain_name(name);
    for (const char* n : kAddressSpaceCalls)
        if (name == n) return true;
    for (const BufferAccess& b : kBufferAccesses)
        if (name == b.name) return true;
    return false;
}

TranslatedSyscall translate_trace_syscall(const TraceSyscall& call, TraceArch arch, const std::string& origin) {
    TranslatedSyscall out;
    if (!call.returned) return out;  // exit, exit_group
    const std::string_view name = plain_name(call.name);
    const auto& a = call.args;
    const bool ok = call.result >= 0;
    if (name == "mmap") {
        out.calls.push_back(mmap_request(call, arch, origin));
    } else if (name == "munmap" || name == "mprotect") {
        kernel::Syscall s = request(name == "munmap" ? kernel::SyscallOp::Munmap : kernel::SyscallOp::Mprotect, call, origin);
        s.addr = a[0];
        s.len = a[1];
        if (name == "mprotect") s.prot = static_cast<unsigned>(a[2] & 7);
        out.calls.push_back(std::move(s));
    } else if (name == "madvise") {
        out.calls.push_back(madvise_request(call, origin));
    } else if (name == "mremap") {
        kernel::Syscall s = request(kernel::SyscallOp::Mremap, call, origin);
        s.addr = a[0];
        s.len = a[1];
        s.new_len = a[2];
        s.new_addr = ok ? static_cast<std::uint64_t>(call.result) : 0;
        out.calls.push_back(std::move(s));
    } else if (name == "brk") {
        kernel::Syscall s = request(kernel::SyscallOp::Brk, call, origin);
        s.addr = a[0];
        s.new_addr = static_cast<std::uint64_t>(call.result);
        out.calls.push_back(std::move(s));
    }
    if (!ok) return out;
    for (const BufferAccess& b : kBufferAccesses) {
        if (name != b.name) continue;
        const std::uint64_t va = a[b.buffer];
        if (va == 0 && b.optional) continue;
        // getxattr with size 0 (the argument after the buffer) only returns the value's size.
        if (b.optional && b.bytes == Bytes::Result && a[b.buffer + 1] == 0) continue;
        std::uint64_t bytes = 0;
        switch (b.bytes) {
            case Bytes::Result: bytes = static_cast<std::uint64_t>(call.result); break;
            case Bytes::Stat: bytes = stat_size(arch); break;
            case Bytes::Fixed: bytes = b.size; break;
            case Bytes::Arg: bytes = a[b.size]; break;
        }
        if (bytes == 0) continue;
        if (bytes > kMaxBuffer)
            fail(origin, std::string(b.name) + " moved " + std::to_string(bytes) +
                             " bytes through one buffer, more than the 4 GiB a record can cover (Linux moves at "
                             "most 0x7ffff000 bytes per call)");
        out.accesses.push_back(Record{va, static_cast<std::uint32_t>(bytes), b.kind, 0, kRecordKernelAccess});
    }
    return out;
}

}  // namespace mmusim::workloads
