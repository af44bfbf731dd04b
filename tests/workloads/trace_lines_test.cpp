// The syntax of the extension lines of a trace: @trace, @map, @sys, and valgrind's SYSCALL
// lines (the valgrind lines are copied from `traces/capture.sh -- /bin/ls -la /usr` with
// valgrind 3.19.0 on this machine).
#include "workloads/trace_lines.h"

#include <gtest/gtest.h>

#include <functional>
#include <initializer_list>
#include <string>

namespace mmusim::workloads {
namespace {

using Kind = ValgrindSyscallLine::Kind;

// Runs `action`, which must throw a TraceLineError whose problem and expected form hold the pieces.
void expect_line_error(const std::function<void()>& action, std::initializer_list<std::string> problem,
                       std::initializer_list<std::string> expected) {
    try {
        action();
        ADD_FAILURE() << "no error was raised";
    } catch (const TraceLineError& error) {
        for (const std::string& piece : problem)
            EXPECT_NE(error.problem.find(piece), std::string::npos) << "missing \"" << piece << "\" in: " << error.problem;
        for (const std::string& piece : expected)
            EXPECT_NE(error.expected.find(piece), std::string::npos) << "missing \"" << piece << "\" in: " << error.expected;
    }
}

TEST(TraceLines, KindsAreFoundByTheFirstBytes) {
    EXPECT_EQ(trace_line_kind("@trace arm64 4096"), TraceLineKind::Header);
    EXPECT_EQ(trace_line_kind("@map 0 1000 r--p 0 -"), TraceLineKind::Map);
    EXPECT_EQ(trace_line_kind("@sys brk 0 0 0 0 0 0 = 0"), TraceLineKind::Sys);
    EXPECT_EQ(trace_line_kind("@future extension"), TraceLineKind::UnknownAt);
    EXPECT_EQ(trace_line_kind("SYSCALL[1,1](12) sys_brk ( 0x0 ) --> [pre-success] Success(0x1000) "),
              TraceLineKind::Valgrind);
    EXPECT_EQ(trace_line_kind(" --> [pre-fail] Failure(0x26) "), TraceLineKind::ValgrindOutcome);
    EXPECT_EQ(trace_line_kind("==29886== Command: /bin/ls /"), TraceLineKind::ValgrindHeader);
    EXPECT_EQ(trace_line_kind("==29886== "), TraceLineKind::ValgrindHeader);
    EXPECT_EQ(trace_line_kind("== not a header"), TraceLineKind::None);
    EXPECT_EQ(trace_line_kind("SB 04017e40"), TraceLineKind::None);
    EXPECT_EQ(trace_line_kind(" X 1234,4"), TraceLineKind::None);
    EXPECT_EQ(trace_line_kind(""), TraceLineKind::None);
}

TEST(TraceLines, TraceHeader) {
    EXPECT_EQ(parse_trace_header("@trace arm64 4096"), TraceArch::Arm64);
    EXPECT_EQ(parse_trace_header("@trace arm64 4096 \r"), TraceArch::Arm64);
    expect_line_error([] { parse_trace_header("@trace arm64 16384"); }, {"16384", "4096-byte pages only"},
                      {"@trace arm64 4096"});
    expect_line_error([] { parse_trace_header("@trace riscv64 4096"); }, {"\"riscv64\"", "architecture"},
                      {"arm64"});
    expect_line_error([] { parse_trace_header("@trace arm64"); }, {"two fields"}, {"@trace arm64 4096"});
    expect_line_error([] { parse_trace_header("@trace arm64 4k"); }, {"\"4k\"", "decimal"}, {"4096"});
}

TEST(TraceLines, MapLines) {
    const TraceMapping m = parse_map_line("@map 5500000000 5500022000 r-xp 00000000 /bin/ls");
    EXPECT_EQ(m.start, 0x5500000000u);
    EXPECT_EQ(m.end, 0x5500022000u);
    EXPECT_TRUE(m.read);
    EXPECT_FALSE(m.write);
    EXPECT_TRUE(m.exec);
    EXPECT_FALSE(m.shared);
    EXPECT_EQ(m.offset, 0u);
    EXPECT_EQ(m.name, "/bin/ls");

    const TraceMapping data = parse_map_line("@map 550003f000 5500041000 rw-p 0002f000 /bin/ls");
    EXPECT_EQ(data.offset, 0x2f000u);
    EXPECT_TRUE(data.write);
    EXPECT_EQ(parse_map_line("@map 5502042000 5502043000 ---p 00000000 -").name, "");
    EXPECT_EQ(parse_map_line("@map 5502043000 5502843000 rw-p 00000000 [stack]").name, "[stack]");
    const TraceMapping shared = parse_map_line("@map 1000 3000 r--s 00001000 /tmp/a file with blanks");
    EXPECT_TRUE(shared.shared);
    EXPECT_EQ(shared.name, "/tmp/a file with blanks");
}

TEST(TraceLines, BadMapLinesSayWhatIsWrong) {
    expect_line_error([] { parse_map_line("@map 5500000000 5500022000 r-xp 00000000"); }, {"fewer than five"},
                      {"@map START END PROT OFFSET NAME"});
    expect_line_error([] { parse_map_line("@map 0x1000 2000 r-xp 0 -"); }, {"START \"0x1000\"", "hex"},
                      {"hex without 0x"});
    expect_line_error([] { parse_map_line("@map 1000 2g00 r-xp 0 -"); }, {"END \"2g00\""}, {"hex"});
    expect_line_error([] { parse_map_line("@map 1000 2000 r-xp zz -"); }, {"OFFSET \"zz\""}, {"OFFSET hex"});
    expect_line_error([] { parse_map_line("@map 2000 2000 r-xp 0 -"); }, {"START 2000 is not below END 2000"},
                      {"START below END"});
    expect_line_error([] { parse_map_line("@map 1800 2000 r-xp 0 -"); }, {"1800", "multiple of 4096"},
                      {"4096-aligned"});
    expect_line_error([] { parse_map_line("@map 1000 2800 r-xp 0 -"); }, {"2800", "multiple of 4096"}, {});
    expect_line_error([] { parse_map_line("@map 1000 2000 rwx- 0 -"); }, {"PROT \"rwx-\""}, {"[r-][w-][x-][ps]"});
    expect_line_error([] { parse_map_line("@map 1000 2000 r-x 0 -"); }, {"PROT \"r-x\""}, {"[ps]"});
}

TEST(TraceLines, SysLines) {
    const TraceSyscall mmap = parse_sys_line("@sys mmap 0 6e3 1 2 4 0 = 5502886000 /etc/ld.so.cache");
    EXPECT_EQ(mmap.name, "mmap");
    EXPECT_EQ(mmap.args[0], 0u);
    EXPECT_EQ(mmap.args[1], 0x6e3u);
    EXPECT_EQ(mmap.args[3], 2u);
    EXPECT_EQ(mmap.args[4], 4u);
    EXPECT_TRUE(mmap.returned);
    EXPECT_EQ(mmap.result, 0x5502886000);
    EXPECT_EQ(mmap.path, "/etc/ld.so.cache");

    const TraceSyscall anon = parse_sys_line("@sys mmap 0 2000 3 22 ffffffffffffffff 0 = 5502887000");
    EXPECT_EQ(anon.args[4], ~std::uint64_t{0});
    EXPECT_EQ(anon.path, "");

    const TraceSyscall failed = parse_sys_line("@sys faccessat ffffffffffffff9c 5502865570 4 6474e552 6474e552 55028431c8 = -2");
    EXPECT_EQ(failed.result, -2);
    EXPECT_EQ(failed.args[0], 0xffffffffffffff9cu);

    const TraceSyscall exit = parse_sys_line("@sys exit_group 0 0 0 55028774c0 20 0");
    EXPECT_EQ(exit.name, "exit_group");
    EXPECT_FALSE(exit.returned);
    EXPECT_FALSE(parse_sys_line("@sys exit 1 0 0 0 0 0").returned);

    EXPECT_EQ(parse_sys_line("@sys mmap 0 1000 3 2 4 0 = 7000 /a path/with blanks").path, "/a path/with blanks");
    EXPECT_EQ(parse_sys_line("@sys sys_294 1 2 3 4 5 6 = -38").name, "sys_294");
}

TEST(TraceLines, BadSysLinesSayWhatIsWrong) {
    expect_line_error([] { parse_sys_line("@sys read 4 5502841fb0 340 0 5502841f8f"); }, {"5 arguments instead of six"},
                      {"@sys NAME A0 A1 A2 A3 A4 A5 = RESULT [PATH]"});
    expect_line_error([] { parse_sys_line("@sys read 4 0x5502841fb0 340 0 0 0 = 340"); }, {"argument A1 \"0x5502841fb0\""},
                      {"six hex arguments without 0x"});
    expect_line_error([] { parse_sys_line("@sys read 4 5502841fb0 340 0 0 0"); }, {"no \"= RESULT\"", "exit_group"}, {});
    expect_line_error([] { parse_sys_line("@sys read 4 5502841fb0 340 0 0 0 -> 340"); }, {"\" = RESULT\""}, {});
    expect_line_error([] { parse_sys_line("@sys read 4 5502841fb0 340 0 0 0 = -0"); }, {"\"-0\"", "-1 to -4095"},
                      {"-ERRNO"});
    expect_line_error([] { parse_sys_line("@sys read 4 5502841fb0 340 0 0 0 = -5000"); }, {"-5000"}, {});
    expect_line_error([] { parse_sys_line("@sys read 4 5502841fb0 340 0 0 0 = 34x"); }, {"RESULT \"34x\""}, {"RESULT hex"});
    expect_line_error([] { parse_sys_line("@sys read 4 5502841fb0 340 0 0 0 = 8000000000000000"); },
                      {"7fffffffffffffff"}, {});
    expect_line_error([] { parse_sys_line("@sys read 4 5502841fb0 340 0 0 0 = 340 /etc/passwd"); },
                      {"PATH", "only an mmap"}, {"PATH only on an mmap"});
    expect_line_error([] { parse_sys_line("@sys"); }, {"NAME is missing"}, {});
}

TEST(TraceLines, ValgrindSingleLineForms) {
    const auto brk = parse_valgrind_syscall_line("SYSCALL[29886,1](12) sys_brk ( 0x0 ) --> [pre-success] Success(0x4035000) ");
    EXPECT_EQ(brk.kind, Kind::Complete);
    EXPECT_EQ(brk.key, "29886,1");
    EXPECT_EQ(brk.number, 12u);
    EXPECT_EQ(brk.call.name, "brk");
    EXPECT_EQ(brk.args, 1u);
    EXPECT_EQ(brk.numeric_args, 1u);
    EXPECT_EQ(brk.call.result, 0x4035000);

    const auto mmap = parse_valgrind_syscall_line(
        "SYSCALL[29886,1](9) sys_mmap ( 0x4838000, 4096, 5, 2066, 4, 4096 ) --> [pre-success] Success(0x4838000) ");
    EXPECT_EQ(mmap.call.name, "mmap");
    EXPECT_EQ(mmap.args, 6u);
    EXPECT_EQ(mmap.numeric_args, 0x3fu);
    EXPECT_EQ(mmap.call.args[0], 0x4838000u);
    EXPECT_EQ(mmap.call.args[1], 4096u);
    EXPECT_EQ(mmap.call.args[3], 2066u);
    EXPECT_EQ(mmap.call.args[5], 4096u);

    const auto anon = parse_valgrind_syscall_line(
        "SYSCALL[29886,1](9) sys_mmap ( 0x0, 8192, 3, 34, 4294967295, 0 ) --> [pre-success] Success(0x4835000) ");
    EXPECT_EQ(anon.call.args[4], 4294967295u);

    const auto mprotect =
        parse_valgrind_syscall_line("SYSCALL[29886,1](10) sys_mprotect ( 0x4a44000, 16384, 1 )[sync] --> Success(0x0) ");
    EXPECT_EQ(mprotect.kind, Kind::Complete);
    EXPECT_EQ(mprotect.call.name, "mprotect");
    EXPECT_EQ(mprotect.call.result, 0);
    EXPECT_EQ(mprotect.call.args[1], 16384u);

    const auto access = parse_valgrind_syscall_line(
        "SYSCALL[29886,1](21) sys_access ( 0x402a2a0(/etc/ld.so.preload), 4 )[sync] --> Failure(0x2) ");
    EXPECT_EQ(access.call.result, -2);
    EXPECT_EQ(access.strings[0], "/etc/ld.so.preload");
    EXPECT_EQ(access.call.args[0], 0x402a2a0u);
    EXPECT_EQ(access.call.args[1], 4u);

    const auto stat = parse_valgrind_syscall_line(
        "SYSCALL[29886,1](262) sys_newfstatat ( 4, 0x4029c99(), 0x1ffeffeb60 )[sync] --> Success(0x0) ");
    EXPECT_EQ(stat.call.name, "newfstatat");
    EXPECT_EQ(stat.strings[1], "");
    EXPECT_EQ(stat.call.args[2], 0x1ffeffeb60u);

    // No blank before the parenthesis, and arch_prctl's hex without 0x.
    const auto clock =
        parse_valgrind_syscall_line("SYSCALL[29886,1](228) sys_clock_gettime( 0, 0x12d6b0 )[sync] --> Success(0x0) ");
    EXPECT_EQ(clock.call.name, "clock_gettime");
    EXPECT_EQ(clock.call.args[1], 0x12d6b0u);
    const auto prctl =
        parse_valgrind_syscall_line("SYSCALL[29886,1](158) arch_prctl ( 4098, 4af1c40 ) --> [pre-success] Success(0x0) ");
    EXPECT_EQ(prctl.call.name, "arch_prctl");
    EXPECT_EQ(prctl.call.args[1], 0x4af1c40u);

    const auto exit = parse_valgrind_syscall_line("SYSCALL[29886,1](231) exit_group( 0 ) --> [pre-success] Success(0x0) ");
    EXPECT_EQ(exit.call.name, "exit_group");

    // A call valgrind refuses itself, on one line.
    const auto refused = parse_valgrind_syscall_line(
        "SYSCALL[29886,1](9) sys_mmap ( 0x1000, 4096, 3, 50, 4294967295, 0 ) --> [pre-fail] Failure(0x16) ");
    EXPECT_EQ(refused.kind, Kind::Complete);
    EXPECT_EQ(refused.call.result, -22);

    // A path holding a parenthesis and a comma stays whole.
    const auto odd = parse_valgrind_syscall_line(
        "SYSCALL[1,1](262) sys_newfstatat ( 4294967196, 0x10(/tmp/a (1),b), 0x20 )[sync] --> Success(0x0) ");
    EXPECT_EQ(odd.strings[1], "/tmp/a (1),b");
    EXPECT_EQ(odd.call.args[2], 0x20u);
    EXPECT_EQ(odd.args, 3u);

    const auto none = parse_valgrind_syscall_line("SYSCALL[1,1](39) sys_getpid ( )[sync] --> Success(0x1092) ");
    EXPECT_EQ(none.args, 0u);
    EXPECT_EQ(none.call.result, 0x1092);
}

TEST(TraceLines, ValgrindTwoLineForms) {
    const auto open = parse_valgrind_syscall_line(
        "SYSCALL[29886,1](257) sys_openat ( 4294967196, 0x4034bb0(/usr/libexec/valgrind/vgpreload_core-amd64-linux.so), "
        "524288 ) --> [async] ... ");
    EXPECT_EQ(open.kind, Kind::AsyncStart);
    EXPECT_EQ(open.call.name, "openat");
    EXPECT_EQ(open.key, "29886,1");
    EXPECT_EQ(open.number, 257u);
    EXPECT_EQ(open.strings[1], "/usr/libexec/valgrind/vgpreload_core-amd64-linux.so");
    EXPECT_EQ(open.call.args[2], 524288u);

    const auto opened = parse_valgrind_syscall_line("SYSCALL[29886,1](257) ... [async] --> Success(0x4) ");
    EXPECT_EQ(opened.kind, Kind::AsyncEnd);
    EXPECT_EQ(opened.key, "29886,1");
    EXPECT_EQ(opened.number, 257u);
    EXPECT_EQ(opened.call.result, 4);
    EXPECT_EQ(parse_valgrind_syscall_line("SYSCALL[29886,1](257) ... [async] --> Failure(0x2) ").call.result, -2);

    const auto message =
        parse_valgrind_syscall_line("SYSCALL[29886,1](334) unimplemented (by the kernel) syscall: 334! (ni_syscall)");
    EXPECT_EQ(message.kind, Kind::PreFailStart);
    EXPECT_EQ(message.number, 334u);
    EXPECT_EQ(message.call.name, "sys_334");
    const auto outcome = parse_valgrind_syscall_line(" --> [pre-fail] Failure(0x26) ");
    EXPECT_EQ(outcome.kind, Kind::PreFailEnd);
    EXPECT_EQ(outcome.call.result, -38);
}

TEST(TraceLines, BadValgrindLinesSayWhatIsWrong) {
    const std::initializer_list<std::string> form = {"SYSCALL[PID,TID](NR) NAME ( ARGS )"};
    expect_line_error([] { parse_valgrind_syscall_line("SYSCALL[x,1](12) sys_brk ( 0x0 ) --> [pre-success] Success(0x0)"); },
                      {"SYSCALL[PID,TID](NR)"}, form);
    expect_line_error([] { parse_valgrind_syscall_line("SYSCALL[1,1](12) sys_brk ( 0x0 ) --> [maybe] Success(0x0)"); },
                      {"\"[maybe] Success(0x0)\""}, form);
    expect_line_error([] { parse_valgrind_syscall_line("SYSCALL[1,1](12) sys_brk ( 0x0 )[sync] --> Done(0x0)"); },
                      {"\"Done(0x0)\"", "Success(0xVALUE) or Failure(0xERRNO)"}, form);
    expect_line_error([] { parse_valgrind_syscall_line("SYSCALL[1,1](12) sys_brk ( 0x0 )[sync] --> Failure(0x0)"); },
                      {"1 to 4095"}, form);
    expect_line_error([] { parse_valgrind_syscall_line("SYSCALL[1,1](12) sys_brk 0x0 --> [pre-success] Success(0x0)"); },
                      {"NAME ( ARGS )"}, form);
    expect_line_error([] { parse_valgrind_syscall_line("SYSCALL[1,1](1) sys_write ( 1, 0x10(abc, 3 )[sync] --> Success(0x3)"); },
                      {"no closing ')'"}, form);
    expect_line_error([] { parse_valgrind_syscall_line(" --> [pre-success] Success(0x0)"); }, {"[pre-fail]"}, form);
    expect_line_error(
        [] { parse_valgrind_syscall_line("SYSCALL[1,1](1) sys_x ( 1, 2, 3, 4, 5, 6, 7 )[sync] --> Success(0x0)"); },
        {"more than six"}, form);
}

}  // namespace
}  // namespace mmusim::workloads
