// What a traced system call becomes: kernel requests and the kernel's accesses to user buffers.
#include "workloads/trace_syscalls.h"

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>

#include "workloads/workload_error.h"

namespace mmusim::workloads {
namespace {

using kernel::SyscallOp;

TraceSyscall call(const std::string& name, std::initializer_list<std::uint64_t> args, std::int64_t result,
                  const std::string& path = "") {
    TraceSyscall c;
    c.name = name;
    unsigned i = 0;
    for (const std::uint64_t a : args) c.args[i++] = a;
    c.result = result;
    c.path = path;
    return c;
}

TranslatedSyscall arm64(const TraceSyscall& c) { return translate_trace_syscall(c, TraceArch::Arm64, "t.zst:7"); }

void expect_error(const TraceSyscall& c, TraceArch arch, std::initializer_list<std::string> pieces) {
    try {
        translate_trace_syscall(c, arch, "t.zst:42");
        ADD_FAILURE() << "no error was raised";
    } catch (const WorkloadError& error) {
        const std::string message = error.what();
        EXPECT_EQ(message.rfind("t.zst:42: ", 0), 0u) << message;
        for (const std::string& piece : pieces)
            EXPECT_NE(message.find(piece), std::string::npos) << "missing \"" << piece << "\" in: " << message;
    }
}

void expect_traced(const kernel::Syscall& s, SyscallOp op, std::int64_t result) {
    EXPECT_EQ(s.op, op);
    EXPECT_TRUE(s.traced);
    EXPECT_EQ(s.traced_result, result);
    EXPECT_EQ(s.origin, "t.zst:7");
    EXPECT_EQ(s.process, 0u);
}

void expect_access(const Record& r, std::uint64_t va, std::uint32_t size, AccessKind kind) {
    EXPECT_EQ(r.va, va);
    EXPECT_EQ(r.size, size);
    EXPECT_EQ(r.kind, kind);
    EXPECT_EQ(r.flags, kRecordKernelAccess);
    EXPECT_EQ(r.process, 0u);
}

TEST(TraceSyscalls, MmapOfAFileMapsWhereTheKernelChose) {
    const auto t = arm64(call("mmap", {0, 0x6e3, 1, 2, 4, 0x3000}, 0x5502886000, "/etc/ld.so.cache"));
    ASSERT_EQ(t.calls.size(), 1u);
    EXPECT_TRUE(t.accesses.empty());
    const kernel::Syscall& s = t.calls[0];
    expect_traced(s, SyscallOp::Mmap, 0x5502886000);
    EXPECT_EQ(s.addr, 0x5502886000u);
    EXPECT_EQ(s.len, 0x6e3u);
    EXPECT_EQ(s.prot, kernel::kProtRead);
    EXPECT_EQ(s.kind, kernel::MapKind::File);
    EXPECT_EQ(s.file_path, "/etc/ld.so.cache");
    EXPECT_EQ(s.file_offset, 0x3000u);
    EXPECT_FALSE(s.shared);
    EXPECT_FALSE(s.fixed);
}

TEST(TraceSyscalls, MmapFlags) {
    // MAP_PRIVATE | MAP_ANONYMOUS, prot with PROT_SEM-like high bits dropped
    const auto anon = arm64(call("mmap", {0, 0x2000, 0x13, 0x22, ~0ull, 0}, 0x5502887000)).calls.at(0);
    EXPECT_EQ(anon.kind, kernel::MapKind::Anon);
    EXPECT_EQ(anon.prot, 3u);
    EXPECT_EQ(anon.file_path, "");
    // MAP_PRIVATE | MAP_FIXED | MAP_DENYWRITE of a file
    const auto fixed = arm64(call("mmap", {0x5502890000, 0x42638, 5, 0x812, 4, 0}, 0x5502890000, "/lib/x.so")).calls.at(0);
    EXPECT_TRUE(fixed.fixed);
    EXPECT_FALSE(fixed.shared);
    EXPECT_EQ(fixed.prot, 5u);
    // MAP_SHARED, MAP_SHARED_VALIDATE, MAP_FIXED_NOREPLACE
    EXPECT_TRUE(arm64(call("mmap", {0, 0x1000, 3, 0x01, 5, 0}, 0x7000, "/f")).calls.at(0).shared);
    EXPECT_TRUE(arm64(call("mmap", {0, 0x1000, 3, 0x03, 5, 0}, 0x7000, "/f")).calls.at(0).shared);
    const auto noreplace = arm64(call("mmap", {0x9000, 0x1000, 3, 0x100022, ~0ull, 0}, 0x9000)).calls.at(0);
    EXPECT_FALSE(noreplace.fixed);
    EXPECT_FALSE(noreplace.shared);
}

TEST(TraceSyscalls, FailedCallsAreStillRequests) {
    const auto mmap = arm64(call("mmap", {0x10000, 0x1000, 3, 0x22, ~0ull, 0}, -12));
    ASSERT_EQ(mmap.calls.size(), 1u);
    expect_traced(mmap.calls[0], SyscallOp::Mmap, -12);
    EXPECT_EQ(mmap.calls[0].addr, 0x10000u);
    const auto munmap = arm64(call("munmap", {0x10001, 0x1000}, -22));
    expect_traced(munmap.calls.at(0), SyscallOp::Munmap, -22);
    // A failed read has no access.
    const auto read = arm64(call("read", {4, 0x5502841fb0, 0x340}, -9));
    EXPECT_TRUE(read.calls.empty());
    EXPECT_TRUE(read.accesses.empty());
    // Nor does a failed file mmap need a path, or a failed one an aligned result.
    EXPECT_EQ(arm64(call("mmap", {0, 0x1000, 1, 2, 99, 0}, -9)).calls.at(0).kind, kernel::MapKind::File);
}

TEST(TraceSyscalls, MunmapMprotectBrkMremap) {
    const auto munmap = arm64(call("munmap", {0x5502889000, 0x7000, 0x5502890000}, 0)).calls.at(0);
    expect_traced(munmap, SyscallOp::Munmap, 0);
    EXPECT_EQ(munmap.addr, 0x5502889000u);
    EXPECT_EQ(munmap.len, 0x7000u);

    const auto mprotect = arm64(call("mprotect", {0x55028bb000, 0x14000, 0xf1}, 0)).calls.at(0);
    expect_traced(mprotect, SyscallOp::Mprotect, 0);
    EXPECT_EQ(mprotect.addr, 0x55028bb000u);
    EXPECT_EQ(mprotect.len, 0x14000u);
    EXPECT_EQ(mprotect.prot, 1u);

    const auto brk = arm64(call("brk", {0x5500063000, 0x5500063000}, 0x5500063000)).calls.at(0);
    expect_traced(brk, SyscallOp::Brk, 0x5500063000);
    EXPECT_EQ(brk.addr, 0x5500063000u);
    EXPECT_EQ(brk.new_addr, 0x5500063000u);
    const auto query = arm64(call("brk", {0}, 0x5500042000)).calls.at(0);
    EXPECT_EQ(query.addr, 0u);
    EXPECT_EQ(query.new_addr, 0x5500042000u);

    const auto mremap = arm64(call("mremap", {0x7000, 0x2000, 0x8000, 1, 0}, 0x20000)).calls.at(0);
    expect_traced(mremap, SyscallOp::Mremap, 0x20000);
    EXPECT_EQ(mremap.addr, 0x7000u);
    EXPECT_EQ(mremap.len, 0x2000u);
    EXPECT_EQ(mremap.new_len, 0x8000u);
    EXPECT_EQ(mremap.new_addr, 0x20000u);
}

TEST(TraceSyscalls, MadviseAdvices) {
    const std::pair<std::uint64_t, kernel::Advice> advices[] = {
        {0, kernel::Advice::Normal},       {1, kernel::Advice::Random},      {2, kernel::Advice::Sequential},
        {3, kernel::Advice::WillNeed},     {4, kernel::Advice::DontNeed},    {8, kernel::Advice::Free},
        {10, kernel::Advice::DontFork},    {11, kernel::Advice::DoFork},     {12, kernel::Advice::Mergeable},
        {13, kernel::Advice::Unmergeable}, {14, kernel::Advice::HugePage},   {15, kernel::Advice::NoHugePage},
        {16, kernel::Advice::DontDump},    {17, kernel::Advice::DoDump},     {18, kernel::Advice::WipeOnFork},
        {19, kernel::Advice::KeepOnFork},  {21, kernel::Advice::PageOut},    {25, kernel::Advice::Collapse},
    };
    for (const auto& [number, advice] : advices) {
        const auto s = arm64(call("madvise", {0x7000, 0x3000, number}, 0)).calls.at(0);
        expect_traced(s, SyscallOp::Madvise, 0);
        EXPECT_EQ(s.addr, 0x7000u);
        EXPECT_EQ(s.len, 0x3000u);
        EXPECT_EQ(s.advice, advice) << "MADV " << number;
    }
}

TEST(TraceSyscalls, UnmodelledAdvicesFailOnlyWhenTheyTookEffect) {
    expect_error(call("madvise", {0x7000, 0x1000, 9}, 0), TraceArch::Arm64,
                 {"MADV_REMOVE", "does not implement", "succeeded"});
    expect_error(call("madvise", {0x7000, 0x1000, 20}, 0), TraceArch::Arm64, {"MADV_COLD"});
    expect_error(call("madvise", {0x7000, 0x1000, 22}, 0), TraceArch::Arm64, {"MADV_POPULATE_READ"});
    expect_error(call("madvise", {0x7000, 0x1000, 23}, 0), TraceArch::X86_64, {"MADV_POPULATE_WRITE"});
    expect_error(call("madvise", {0x7000, 0x1000, 77}, 0), TraceArch::Arm64, {"77", "not an advice"});
    const auto failed = arm64(call("madvise", {0x7000, 0x1000, 20}, -22));
    ASSERT_EQ(failed.calls.size(), 1u);
    expect_traced(failed.calls[0], SyscallOp::Madvise, -22);
}

TEST(TraceSyscalls, MmapErrors) {
    expect_error(call("mmap", {0, 0x1000, 3, 0x22, ~0ull, 0}, 0x7010), TraceArch::Arm64,
                 {"0x7010", "not a multiple of the 4096-byte page"});
    expect_error(call("mmap", {0, 0x1000, 1, 2, 4, 0}, 0x7000), TraceArch::Arm64,
                 {"file descriptor 4", "no PATH", "@sys mmap"});
    // valgrind traces do not name files: no error there.
    EXPECT_EQ(translate_trace_syscall(call("mmap", {0, 0x1000, 1, 2, 4, 0}, 0x7000), TraceArch::X86_64, "t:1")
                  .calls.at(0)
                  .kind,
              kernel::MapKind::File);
}

TEST(TraceSyscalls, BuffersTheKernelReadsAndWrites) {
    expect_access(arm64(call("read", {4, 0x5502841fb0, 0x340}, 0x340)).accesses.at(0), 0x5502841fb0, 0x340, AccessKind::Store);
    expect_access(arm64(call("pread64", {4, 0x1000, 0x310, 64}, 0x300)).accesses.at(0), 0x1000, 0x300, AccessKind::Store);
    expect_access(arm64(call("write", {1, 0x2000, 698}, 100)).accesses.at(0), 0x2000, 100, AccessKind::Load);
    expect_access(arm64(call("pwrite64", {1, 0x2000, 698, 0}, 698)).accesses.at(0), 0x2000, 698, AccessKind::Load);
    expect_access(arm64(call("getdents64", {4, 0x4040790, 32768}, 1200)).accesses.at(0), 0x4040790, 1200, AccessKind::Store);
    expect_access(arm64(call("getrandom", {0x5502a86930, 8, 1}, 8)).accesses.at(0), 0x5502a86930, 8, AccessKind::Store);
    expect_access(arm64(call("recvfrom", {3, 0x3000, 4096, 0, 0, 0}, 77)).accesses.at(0), 0x3000, 77, AccessKind::Store);
    expect_access(arm64(call("sendto", {3, 0x3000, 55, 0, 0, 0}, 55)).accesses.at(0), 0x3000, 55, AccessKind::Load);
    expect_access(arm64(call("readlinkat", {~0ull - 99, 0x10, 0x4000, 4096}, 12)).accesses.at(0), 0x4000, 12, AccessKind::Store);
    expect_access(arm64(call("getcwd", {0x5000, 4096}, 6)).accesses.at(0), 0x5000, 6, AccessKind::Store);
    expect_access(arm64(call("lgetxattr", {0x10, 0x20, 0x5500047580, 0xff}, 20)).accesses.at(0), 0x5500047580, 20,
                  AccessKind::Store);
    // getxattr with size 0 only asks for the size.
    EXPECT_TRUE(arm64(call("getxattr", {0x10, 0x20, 0, 0}, 20)).accesses.empty());
    expect_access(arm64(call("statx", {~0ull - 99, 0x10, 0x900, 0x25e, 0x5502842748}, 0)).accesses.at(0), 0x5502842748, 256,
                  AccessKind::Store);
    expect_access(arm64(call("statfs", {0x10, 0x5502842ca0}, 0)).accesses.at(0), 0x5502842ca0, 120, AccessKind::Store);
    expect_access(arm64(call("clock_gettime", {1, 0x6000}, 0)).accesses.at(0), 0x6000, 16, AccessKind::Store);
    expect_access(arm64(call("uname", {0x6000}, 0)).accesses.at(0), 0x6000, 390, AccessKind::Store);
    expect_access(arm64(call("pipe2", {0x6000, 0}, 0)).accesses.at(0), 0x6000, 8, AccessKind::Store);
    expect_access(arm64(call("connect", {4, 0x55028422e8, 0x6e}, 0)).accesses.at(0), 0x55028422e8, 0x6e, AccessKind::Load);
    // prlimit64 reads the new limit, then writes the old one; a null pointer is not touched.
    const auto both = arm64(call("prlimit64", {0, 3, 0x7000, 0x8000}, 0)).accesses;
    ASSERT_EQ(both.size(), 2u);
    expect_access(both[0], 0x7000, 16, AccessKind::Load);
    expect_access(both[1], 0x8000, 16, AccessKind::Store);
    const auto old_only = arm64(call("prlimit64", {0, 3, 0, 0x55028429a8}, 0)).accesses;
    ASSERT_EQ(old_only.size(), 1u);
    expect_access(old_only[0], 0x55028429a8, 16, AccessKind::Store);
}

TEST(TraceSyscalls, StatStructsHaveTheArchitecturesSize) {
    expect_access(arm64(call("fstat", {3, 0x9000}, 0)).accesses.at(0), 0x9000, 128, AccessKind::Store);
    expect_access(arm64(call("newfstatat", {4, 0x5502864748, 0x5502841e00, 0x1000}, 0)).accesses.at(0), 0x5502841e00, 128,
                  AccessKind::Store);
    const auto x86 = [](const TraceSyscall& c) { return translate_trace_syscall(c, TraceArch::X86_64, "t:1").accesses.at(0); };
    expect_access(x86(call("newfstatat", {4, 0x4029c99, 0x1ffeffeb60}, 0)), 0x1ffeffeb60, 144, AccessKind::Store);
    expect_access(x86(call("sys_newfstatat", {4, 0x4029c99, 0x1ffeffeb60}, 0)), 0x1ffeffeb60, 144, AccessKind::Store);
    expect_access(x86(call("stat", {0x10, 0x20}, 0)), 0x20, 144, AccessKind::Store);
    expect_access(x86(call("lstat", {0x10, 0x20}, 0)), 0x20, 144, AccessKind::Store);
    expect_access(x86(call("fstat", {3, 0x20}, 0)), 0x20, 144, AccessKind::Store);
    expect_access(x86(call("newstat", {0x10, 0x20}, 0)), 0x20, 144, AccessKind::Store);
    EXPECT_EQ(stat_size(TraceArch::Arm64), 128u);
    EXPECT_EQ(stat_size(TraceArch::X86_64), 144u);
    // A failed stat writes nothing.
    EXPECT_TRUE(arm64(call("newfstatat", {4, 0x10, 0x20, 0}, -2)).accesses.empty());
}

TEST(TraceSyscalls, ValgrindNamesTranslateLikeArm64Ones) {
    const auto x86 = [](const TraceSyscall& c) { return translate_trace_syscall(c, TraceArch::X86_64, "t.zst:7"); };
    const auto mmap = x86(call("sys_mmap", {0x4838000, 4096, 5, 2066, 4, 4096}, 0x4838000, "/lib/x.so")).calls.at(0);
    expect_traced(mmap, SyscallOp::Mmap, 0x4838000);
    EXPECT_TRUE(mmap.fixed);
    EXPECT_EQ(mmap.file_offset, 4096u);
    expect_traced(x86(call("sys_brk", {0}, 0x4035000)).calls.at(0), SyscallOp::Brk, 0x4035000);
    expect_traced(x86(call("mprotect", {0x4a44000, 16384, 1}, 0)).calls.at(0), SyscallOp::Mprotect, 0);
    expect_access(x86(call("sys_read", {4, 0x1ffeffecc8, 832}, 832)).accesses.at(0), 0x1ffeffecc8, 832, AccessKind::Store);
}

TEST(TraceSyscalls, OtherCallsAndEmptyBuffersGiveNothing) {
    for (const char* name : {"openat", "close", "set_tid_address", "rseq", "ioctl", "faccessat", "socket"}) {
        const auto t = arm64(call(name, {1, 2, 3, 4, 5, 6}, 0));
        EXPECT_TRUE(t.calls.empty()) << name;
        EXPECT_TRUE(t.accesses.empty()) << name;
    }
    TraceSyscall exit = call("exit_group", {0}, 0);
    exit.returned = false;
    EXPECT_TRUE(arm64(exit).calls.empty());
    EXPECT_TRUE(arm64(exit).accesses.empty());
    // read at end of file: no record of size 0.
    EXPECT_TRUE(arm64(call("read", {4, 0x5500042500, 0x400}, 0)).accesses.empty());
    EXPECT_TRUE(trace_syscall_uses_args("mmap"));
    EXPECT_TRUE(trace_syscall_uses_args("sys_read"));
    EXPECT_FALSE(trace_syscall_uses_args("openat"));
}

}  // namespace
}  // namespace mmusim::workloads
