// The syntax of the lines of a trace that are not memory records (traces/README.md): the
// `@trace`, `@map` and `@sys` lines of an arm64 capture, and valgrind's SYSCALL lines
// (--trace-syscalls=yes) of an x86_64 one. Each parser takes one line without its '\n' and
// throws TraceLineError saying what is wrong and what was expected; the reader adds the file
// and line number.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "workloads/trace_events.h"

namespace mmusim::workloads {

struct TraceLineError {
    std::string problem;   // what was found, e.g. "START is not below END"
    std::string expected;  // the form, e.g. "\"@map START END PROT OFFSET NAME\" with ..."
};

// The page size of the traces the model replays.
inline constexpr std::uint64_t kTracePageSize = 4096;

// Which kind of extension line `line` begins like (by its first bytes only).
enum class TraceLineKind : std::uint8_t {
    None,           // not an extension line
    Header,         // "@trace "
    Map,            // "@map "
    Sys,            // "@sys "
    UnknownAt,      // "@" followed by something else
    Valgrind,       // "SYSCALL["
    ValgrindOutcome,  // " --> [": the second line of valgrind's two-line [pre-fail] form
    ValgrindHeader,   // "==PID== "
};
TraceLineKind trace_line_kind(std::string_view line);

// `@trace ARCH PAGESIZE`: only arm64 with 4096-byte pages.
TraceArch parse_trace_header(std::string_view line);

// `@map START END PROT OFFSET NAME`; `line` of the result is left 0.
TraceMapping parse_map_line(std::string_view line);

// `@sys NAME A0 A1 A2 A3 A4 A5 = RESULT [PATH]`, or without `= RESULT` for exit and
// exit_group (`returned` false); `line` of the result is left 0.
TraceSyscall parse_sys_line(std::string_view line);

// One SYSCALL line of valgrind 3.19 (or the ` --> [pre-fail]` line that ends the two-line
// form). Complete lines give a whole call; the two-line forms give a Start, which opens the
// call of thread `key`, then an End with the result.
struct ValgrindSyscallLine {
    enum class Kind : std::uint8_t {
        Complete,      // one line: [pre-success], [pre-fail] or [sync]
        AsyncStart,    // "--> [async] ... ": the result comes on a later line of the thread
        AsyncEnd,      // "SYSCALL[PID,TID](NR) ... [async] --> RESULT"
        PreFailStart,  // valgrind's own message, no "-->": the result is on the next line
        PreFailEnd,    // " --> [pre-fail] Failure(0xERRNO)"
    };
    Kind kind = Kind::Complete;
    std::string key;       // "PID,TID" (empty for PreFailEnd)
    std::uint64_t number = 0;  // the system call number (not for PreFailEnd)
    // Complete and the Start kinds: the name (valgrind's, without "sys_") and the arguments;
    // Complete and the End kinds: `returned` and `result`. Arguments that valgrind shows with
    // a string after them (`0x402a2a0(/etc/ld.so.preload)`) have the string in `strings`.
    TraceSyscall call;
    std::string strings[6];
    unsigned args = 0;             // how many arguments valgrind printed
    unsigned numeric_args = 0;     // bit i: argument i is a number
};
ValgrindSyscallLine parse_valgrind_syscall_line(std::string_view line);

}  // namespace mmusim::workloads
