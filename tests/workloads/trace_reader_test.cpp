// The lackey reader on traces with @trace, @map and @sys lines (arm64 captures) and with
// valgrind's SYSCALL lines (x86_64 captures): what it reads besides the records, and the
// Kernel and kernel-access records it puts among them.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <sstream>
#include <string>
#include <vector>

#include "workloads/lackey_reader.h"
#include "workloads/limited_source.h"
#include "workloads/workload_error.h"

namespace mmusim::workloads {
namespace {

namespace fs = std::filesystem;

// The start of `traces/capture.sh --arch arm64 -- ls -la /usr`, records thinned out.
const char* const kArm64Trace =
    "@trace arm64 4096\n"
    "@map 5500000000 5500022000 r-xp 00000000 /bin/ls\n"
    "@map 5500022000 550003f000 ---p 00000000 -\n"
    "@map 550003f000 5500041000 rw-p 0002f000 /bin/ls\n"
    "@map 5502042000 5502043000 ---p 00000000 -\n"
    "@map 5502043000 5502843000 rw-p 00000000 [stack]\n"
    "@map 5502885000 5502886000 r-xp 00000000 [vdso]\n"
    "I  550285de40,4\n"                                                   // 8
    " S 5502842a00,8\n"
    "I  550285de44,4\n"
    "@sys brk 0 0 0 0 5502881e08 b = 5500042000\n"                         // 11
    "I  550285de48,4\n"
    "@sys openat ffffffffffffff9c 5502863400 80000 0 5502884380 ffffffffffffffff = 4\n"
    "I  550285de4c,4\n"
    "@sys newfstatat 4 5502864748 5502841e00 1000 5502884380 ffffffffffffffff = 0\n"  // 15
    "I  550285de50,4\n"
    "@sys mmap 0 6e3 1 2 4 0 = 5502886000 /etc/ld.so.cache\n"             // 17
    "@sys read 4 5502841fb0 340 0 5502841f8f 0 = 340\n"                    // 18
    " L 5502841fb0,8\n"
    "@sys faccessat ffffffffffffff9c 5502865570 4 6474e552 6474e552 55028431c8 = -2\n"
    "@sys mmap 0 2000 3 22 ffffffffffffffff 0 = -c\n"                      // 21 (not valid: -c)
    ;

std::string arm64_trace_without_bad_line() {
    std::string text = kArm64Trace;
    text.erase(text.find("@sys mmap 0 2000"));
    return text +
           "@sys mmap 0 2000 3 22 ffffffffffffffff 0 = -12\n"                  // 21
           "@sys munmap 5502886000 6e3 0 0 0 e = 0\n"                          // 22
           "I  550285de54,4\n"
           "@sys exit_group 0 0 0 55028774c0 20 0\n";
}

class TraceReaderTest : public ::testing::Test {
protected:
    void SetUp() override {
        std::string pattern = (fs::temp_directory_path() / "mmusim-trace-XXXXXX").string();
        ASSERT_NE(mkdtemp(pattern.data()), nullptr);
        m_dir = pattern;
    }
    void TearDown() override { fs::remove_all(m_dir); }

    std::string write(const std::string& text) {
        const std::string path = (m_dir / "trace.txt").string();
        std::ofstream(path, std::ios::binary) << text;
        return path;
    }

    // All records, and for each Kernel record a copy of its request taken while its batch is
    // the last one returned.
    struct Read {
        std::vector<Record> records;
        std::vector<kernel::Syscall> calls;
    };
    static Read read_all(Source& source, std::size_t batch) {
        Read read;
        std::vector<Record> buffer(batch);
        while (const std::size_t n = source.next(buffer.data(), batch)) {
            for (std::size_t i = 0; i < n; ++i) {
                read.records.push_back(buffer[i]);
                if (buffer[i].kind != AccessKind::Kernel) continue;
                const kernel::Syscall* call = source.syscall(buffer[i].va);
                EXPECT_NE(call, nullptr) << "Kernel record " << read.records.size() - 1 << " has no request";
                if (call != nullptr) read.calls.push_back(*call);
            }
        }
        return read;
    }

    void expect_error(const std::string& text, std::initializer_list<std::string> pieces) {
        const std::string path = write(text);
        try {
            auto source = open_lackey(path);
            read_all(*source, 4096);
            ADD_FAILURE() << "no error was raised";
        } catch (const WorkloadError& error) {
            const std::string message = error.what();
            for (const std::string& piece : pieces)
                EXPECT_NE(message.find(piece), std::string::npos) << "missing \"" << piece << "\" in: " << message;
        }
    }

    fs::path m_dir;
};

std::string describe(const Record& r) {
    std::ostringstream os;
    os << std::hex;
    switch (r.kind) {
        case AccessKind::Ifetch: os << "I " << r.va; break;
        case AccessKind::Load: os << "L " << r.va; break;
        case AccessKind::Store: os << "S " << r.va; break;
        case AccessKind::Modify: os << "M " << r.va; break;
        case AccessKind::Kernel: return "K";
        case AccessKind::Checkpoint: return "C";
    }
    os << std::dec << "," << r.size << (r.flags == kRecordKernelAccess ? " kernel" : "");
    return os.str();
}

std::vector<std::string> describe(const std::vector<Record>& records) {
    std::vector<std::string> out;
    for (const Record& r : records) out.push_back(describe(r));
    return out;
}

TEST_F(TraceReaderTest, Arm64TraceGivesArchMappingsAndCallsInStreamOrder) {
    const std::string path = write(arm64_trace_without_bad_line());
    for (const std::size_t batch : {1, 2, 3, 5, 4096}) {
        SCOPED_TRACE("batch " + std::to_string(batch));
        LackeyReader reader(path);
        EXPECT_EQ(reader.arch(), TraceArch::Arm64);
        const auto& maps = reader.initial_mappings();
        ASSERT_EQ(maps.size(), 6u);
        EXPECT_EQ(maps[0].start, 0x5500000000u);
        EXPECT_EQ(maps[0].name, "/bin/ls");
        EXPECT_EQ(maps[0].line, 2u);
        EXPECT_EQ(maps[1].name, "");
        EXPECT_FALSE(maps[1].read);
        EXPECT_EQ(maps[2].offset, 0x2f000u);
        EXPECT_EQ(maps[4].name, "[stack]");
        EXPECT_EQ(maps[5].end, 0x5502886000u);

        const Read read = read_all(reader, batch);
        const std::vector<std::string> want = {
            "I 550285de40,4", "S 5502842a00,8", "I 550285de44,4",
            "K",  // brk
            "I 550285de48,4", "I 550285de4c,4",
            "S 5502841e00,128 kernel",  // newfstatat's struct stat
            "I 550285de50,4",
            "K",  // mmap of ld.so.cache
            "S 5502841fb0,832 kernel",  // read
            "L 5502841fb0,8",
            "K",  // the failed mmap
            "K",  // munmap
            "I 550285de54,4",
        };
        EXPECT_EQ(describe(read.records), want);
        ASSERT_EQ(read.calls.size(), 4u);
        EXPECT_EQ(read.calls[0].op, kernel::SyscallOp::Brk);
        EXPECT_EQ(read.calls[0].new_addr, 0x5500042000u);
        EXPECT_EQ(read.calls[0].origin, path + ":11");
        EXPECT_EQ(read.calls[1].op, kernel::SyscallOp::Mmap);
        EXPECT_EQ(read.calls[1].addr, 0x5502886000u);
        EXPECT_EQ(read.calls[1].file_path, "/etc/ld.so.cache");
        EXPECT_EQ(read.calls[1].origin, path + ":17");
        EXPECT_EQ(read.calls[2].traced_result, -12);
        EXPECT_EQ(read.calls[3].op, kernel::SyscallOp::Munmap);
        EXPECT_TRUE(read.calls[3].traced);
        EXPECT_EQ(reader.traced_calls(), 9u);
    }
}

TEST_F(TraceReaderTest, TheMemoryRecordsAreThoseOfThePlainTrace) {
    // The same trace without its @ lines, and the reader told to leave the calls out: the
    // records of both are the memory records, unchanged.
    const std::string text = arm64_trace_without_bad_line();
    std::string plain;
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);)
        if (line[0] != '@') plain += line + "\n";
    LackeyReader without_calls(write(text), false);
    const Read a = read_all(without_calls, 3);
    EXPECT_EQ(without_calls.initial_mappings().size(), 6u);
    LackeyReader reference(write(plain));
    const Read b = read_all(reference, 4096);
    EXPECT_EQ(describe(a.records), describe(b.records));
    EXPECT_EQ(a.records.size(), 8u);
    // And with the calls, the memory records come out in the same order among the others.
    LackeyReader with_calls(write(text));
    std::vector<Record> memory;
    for (const Record& r : read_all(with_calls, 4).records)
        if (r.kind != AccessKind::Kernel && r.flags == 0) memory.push_back(r);
    EXPECT_EQ(describe(memory), describe(b.records));
}

TEST_F(TraceReaderTest, RequestsOfOlderBatchesAreDropped) {
    std::string text = "@trace arm64 4096\nI  1000,4\n";
    for (int i = 0; i < 50; ++i) text += "@sys munmap 7000 1000 0 0 0 0 = 0\nI  1004,4\n";
    LackeyReader reader(write(text));
    Record batch[8];
    std::uint64_t first_kernel = ~0ull;
    std::uint64_t kernel = 0;
    while (const std::size_t n = reader.next(batch, 8)) {
        for (std::size_t i = 0; i < n; ++i) {
            if (batch[i].kind != AccessKind::Kernel) continue;
            if (first_kernel == ~0ull) first_kernel = batch[i].va;
            EXPECT_EQ(batch[i].va, kernel++);
            ASSERT_NE(reader.syscall(batch[i].va), nullptr);
        }
    }
    EXPECT_EQ(kernel, 50u);
    EXPECT_EQ(reader.syscall(first_kernel), nullptr);  // long replayed
    EXPECT_EQ(reader.syscall(1000), nullptr);
}

TEST_F(TraceReaderTest, ValgrindTraceWithEverySyscallForm) {
    const std::string text =
        "==29886== Lackey, an example Valgrind tool\n"
        "==29886== Command: /bin/ls -la /usr\n"
        "==29886== \n"
        "I  04021c30,3\n"                                                                                       // 4
        "SYSCALL[29886,1](12) sys_brk ( 0x0 ) --> [pre-success] Success(0x4035000) \n"                          // 5
        " S 1ffefff908,8\n"
        "SYSCALL[29886,1](257) sys_openat ( 4294967196, 0x4034bb0(/usr/lib/libacl.so.1), 524288 ) --> [async] ... \n"  // 7
        "I  04021c33,3\n"
        "SYSCALL[29886,1](257) ... [async] --> Success(0x4) \n"                                                 // 9
        "SYSCALL[29886,1](0) sys_read ( 4, 0x1ffeffecc8, 832 ) --> [async] ... \n"                              // 10
        "SYSCALL[29886,1](0) ... [async] --> Success(0x340) \n"                                                 // 11
        "SYSCALL[29886,1](262) sys_newfstatat ( 4, 0x4029c99(), 0x1ffeffeb60 )[sync] --> Success(0x0) \n"       // 12
        "SYSCALL[29886,1](9) sys_mmap ( 0x4838000, 4096, 5, 2066, 4, 4096 ) --> [pre-success] Success(0x4838000) \n"
        "SYSCALL[29886,1](3) sys_close ( 4 )[sync] --> Success(0x0) \n"
        "SYSCALL[29886,1](21) sys_access ( 0x402a2a0(/etc/ld.so.preload), 4 )[sync] --> Failure(0x2) \n"
        "SYSCALL[29886,1](334) unimplemented (by the kernel) syscall: 334! (ni_syscall)\n"
        " --> [pre-fail] Failure(0x26) \n"
        "SYSCALL[29886,1](9) sys_mmap ( 0x0, 8192, 3, 34, 4294967295, 0 ) --> [pre-success] Success(0x4835000) \n"
        "SYSCALL[29886,1](10) sys_mprotect ( 0x4a44000, 16384, 1 )[sync] --> Success(0x0) \n"
        " L 04035000,8\n"
        "SYSCALL[29886,1](9) sys_mmap ( 0x0, 4096, 1, 2, 7, 0 ) --> [pre-success] Success(0x4836000) \n"       // 21
        "SYSCALL[29886,1](231) exit_group( 0 ) --> [pre-success] Success(0x0) \n";
    LackeyReader reader(write(text));
    EXPECT_EQ(reader.arch(), TraceArch::X86_64);
    EXPECT_TRUE(reader.initial_mappings().empty());
    const Read read = read_all(reader, 2);
    const std::vector<std::string> want = {
        "I 4021c30,3", "K", "S 1ffefff908,8", "I 4021c33,3",
        "S 1ffeffecc8,832 kernel",  // read, at its [async] result line
        "S 1ffeffeb60,144 kernel",  // newfstatat, x86_64's struct stat
        "K",                         // mmap of the opened file
        "K", "K",                    // anonymous mmap, mprotect
        "L 4035000,8", "K",
    };
    EXPECT_EQ(describe(read.records), want);
    ASSERT_EQ(read.calls.size(), 5u);
    EXPECT_EQ(read.calls[0].op, kernel::SyscallOp::Brk);
    EXPECT_EQ(read.calls[0].new_addr, 0x4035000u);
    EXPECT_EQ(read.calls[1].op, kernel::SyscallOp::Mmap);
    EXPECT_EQ(read.calls[1].kind, kernel::MapKind::File);
    EXPECT_EQ(read.calls[1].file_path, "/usr/lib/libacl.so.1");  // from the openat that gave fd 4
    EXPECT_TRUE(read.calls[1].fixed);
    EXPECT_EQ(read.calls[2].kind, kernel::MapKind::Anon);
    EXPECT_EQ(read.calls[3].op, kernel::SyscallOp::Mprotect);
    EXPECT_EQ(read.calls[4].file_path, "(fd 7)");  // a descriptor the trace did not open
    EXPECT_EQ(reader.traced_calls(), 12u);
}

TEST_F(TraceReaderTest, TracesWithoutHeadersHaveNoArch) {
    LackeyReader reader(write("I  04021c30,3\n"));
    EXPECT_EQ(reader.arch(), TraceArch::Unknown);
    EXPECT_TRUE(reader.initial_mappings().empty());
}

TEST_F(TraceReaderTest, LimitedSourcePassesTheTraceOn) {
    LimitedSource limited(std::make_unique<LackeyReader>(write(arm64_trace_without_bad_line())), 4);
    EXPECT_EQ(limited.arch(), TraceArch::Arm64);
    EXPECT_EQ(limited.initial_mappings().size(), 6u);
    Record batch[8];
    EXPECT_EQ(limited.next(batch, 8), 4u);
    EXPECT_EQ(batch[3].kind, AccessKind::Kernel);
    EXPECT_NE(limited.syscall(batch[3].va), nullptr);
}

TEST_F(TraceReaderTest, BadExtensionLinesNameTheLineAndTheForm) {
    expect_error(kArm64Trace, {"trace.txt:21:", "\"@sys mmap 0 2000 3 22 ffffffffffffffff 0 = -c\"",
                               "is not an @sys line", "RESULT", "expected \"@sys NAME A0 A1 A2 A3 A4 A5 = RESULT [PATH]\""});
    expect_error("@trace arm64 4096\n@map 2000 3000 r--p 0 -\n@map 1000 2000 r--p 0 -\nI  1000,4\n",
                 {"trace.txt:3:", "not sorted", "line 2", "expected the @map lines sorted by START"});
    expect_error("@trace arm64 4096\n@map 1000 3000 r--p 0 -\n@map 2000 4000 r--p 0 -\nI  1000,4\n",
                 {"trace.txt:3:", "overlap"});
    expect_error("@trace arm64 4096\n@map 1000 2800 r--p 0 -\nI  1000,4\n",
                 {"trace.txt:2:", "is not an @map line", "2800", "4096-aligned"});
    expect_error("@trace arm64 4096\nI  1000,4\n@map 1000 2000 r--p 0 -\n",
                 {"trace.txt:3:", "after the first record", "before the first record"});
    expect_error("@trace arm64 4096\n@sys close 3 0 0 0 0 0 = 0\n@map 1000 2000 r--p 0 -\nI  1000,4\n",
                 {"trace.txt:3:", "after the first record or system call"});
    expect_error("I  1000,4\n@trace arm64 4096\n", {"trace.txt:2:", "only as the first line"});
    expect_error("@trace arm64 65536\nI  1000,4\n", {"trace.txt:1:", "65536", "4096"});
    expect_error("@trace x86_64 4096\nI  1000,4\n", {"trace.txt:1:", "\"x86_64\""});
    expect_error("I  1000,4\n@sys close 3 0 0 0 0 0 = 0\n", {"trace.txt:2:", "no @trace line"});
    expect_error("@map 1000 2000 r--p 0 -\nI  1000,4\n", {"trace.txt:1:", "no @trace line"});
    expect_error("@trace arm64 4096\nI  1000,4\n@sys read 4 10 340 0 0 0\n", {"trace.txt:3:", "no \"= RESULT\""});
    expect_error("@trace arm64 4096\nI  1000,4\n@sys mmap 0 1000 3 22 ffffffffffffffff 0 = 7010\n",
                 {"trace.txt:3:", "0x7010", "not a multiple of the 4096-byte page"});
    expect_error("@trace arm64 4096\nI  1000,4\n@sys mmap 0 1000 1 2 4 0 = 7000\n", {"trace.txt:3:", "no PATH"});
    expect_error("@trace arm64 4096\nI  1000,4\n@sys madvise 7000 1000 e 0 0 0 = 0\n@sys madvise 7000 1000 9 0 0 0 = 0\n",
                 {"trace.txt:4:", "MADV_REMOVE", "does not implement"});
    expect_error("@trace arm64 4096\nI  1000,4\nSYSCALL[1,1](12) sys_brk ( 0x0 ) --> [pre-success] Success(0x4035000) \n",
                 {"trace.txt:3:", "in an arm64 trace"});
}

TEST_F(TraceReaderTest, BadValgrindLinesNameTheLineAndTheForm) {
    expect_error("==1== Command: x\nI  1000,4\nSYSCALL[1,1](0) ... [async] --> Success(0x340) \n",
                 {"trace.txt:3:", "is not a valgrind system call line", "no earlier", "[async]"});
    expect_error("==1== Command: x\nI  1000,4\n --> [pre-fail] Failure(0x26) \n", {"trace.txt:3:", "[pre-fail]"});
    expect_error("==1== Command: x\nI  1000,4\nSYSCALL[1,1](0) sys_read ( 4, 0x10, 8 )[sync] --> Maybe \n",
                 {"trace.txt:3:", "\"Maybe\"", "SYSCALL[PID,TID](NR) NAME ( ARGS )"});
    expect_error("==1== Command: x\nI  1000,4\nSYSCALL[1,1](9) sys_mmap ( 0x0, 8192, 3, 34, none, 0 ) --> [pre-success] Success(0x4835000) \n",
                 {"trace.txt:3:", "argument 5 of mmap is not a number"});
    expect_error("==1== Command: x\nI  1000,4\nSYSCALL[1,1](9) sys_mmap ( 0x0, 8192, 3, 34, 4294967295, 0 ) --> [pre-success] Success(0x4835010) \n",
                 {"trace.txt:3:", "0x4835010"});
}

}  // namespace
}  // namespace mmusim::workloads
