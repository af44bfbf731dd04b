// A Source over a valgrind lackey memory trace (valgrind --tool=lackey --trace-mem=yes),
// plain or compressed with gzip, xz or zstd.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "workloads/compressed_input.h"
#include "workloads/lackey_line.h"
#include "workloads/source.h"
#include "workloads/trace_lines.h"

namespace mmusim::workloads {

// Parses the text in place in one large buffer, so that memory does not grow with the trace
// and no line is copied. The constructor reads up to the first record, so that a file that is
// not a lackey trace fails when it is opened rather than in the middle of a run; it also reads
// the `@trace` and `@map` lines there.
//
// System calls (`@sys` lines, valgrind's SYSCALL lines) become, at their place in the stream,
// a Kernel record per kernel::Syscall of the call (va: its index for syscall()) and then the
// kernel's accesses to the call's user buffers (flags kRecordKernelAccess); see
// workloads/trace_syscalls.h. A valgrind call in the two-line [async] or [pre-fail] form takes
// place at its second line. syscall(index) answers for the Kernel records of the last batch
// that next() returned (older ones are dropped).
class LackeyReader : public Source {
public:
    static constexpr std::size_t kBufferSize = std::size_t{1} << 20;
    // A file with no record among its first lines is not a lackey trace.
    static constexpr std::uint64_t kProbeLines = 1000;

    // `kernel_calls` false reads the system call lines (and checks them) but yields none of
    // their records: the memory records alone, as before traces had system calls.
    explicit LackeyReader(const std::string& path, bool kernel_calls = true);
    LackeyReader(const LackeyReader&) = delete;
    LackeyReader& operator=(const LackeyReader&) = delete;

    std::size_t next(Record* out, std::size_t max) override;
    const std::string& name() const override { return m_input.path(); }
    const kernel::Syscall* syscall(std::uint64_t index) const override;
    const std::vector<TraceMapping>& initial_mappings() const override { return m_mappings; }
    TraceArch arch() const override { return m_arch; }

    Compression compression() const { return m_input.compression(); }
    // Lines consumed so far: after next() returned a trace's Nth record, the line it came from.
    std::uint64_t line() const { return m_line; }
    // System calls read so far (lines, not requests).
    std::uint64_t traced_calls() const { return m_traced_calls; }

private:
    std::size_t parse(Record* out, std::size_t max);
    void compact();
    bool refill();
    bool find_last_newline(std::size_t from);
    void drop_long_line();
    bool skip_rest_of_long_line(std::size_t from);
    bool finish_input();
    void note_skipped_line(const char* line);
    std::size_t drain(Record* out, std::size_t max);
    bool extension_line(const char* start, std::size_t length, std::uint64_t line, bool after_records);
    void valgrind_line(std::string_view text, std::uint64_t line);
    void finish_valgrind_call(TraceSyscall call, const ValgrindSyscallLine& start);
    bool take_call(const TraceSyscall& call);
    [[noreturn]] void fail_line(const char* line, std::uint64_t number, const char* what,
                                const TraceLineError& error) const;

    [[noreturn]] void fail_malformed(const char* line, std::uint64_t number,
                                     LackeyLine problem) const;
    [[noreturn]] void fail_no_records() const;

    CompressedInput m_input;
    std::unique_ptr<char[]> m_buf;  // kBufferSize, plus room for a final '\n'
    std::size_t m_pos = 0;          // first byte not yet parsed
    std::size_t m_lines_end = 0;    // just after the last '\n' in the buffer
    std::size_t m_end = 0;          // end of the text in the buffer
    bool m_eof = false;
    bool m_skipping = false;        // dropping the rest of a line longer than the buffer
    std::uint64_t m_line = 0;       // lines consumed
    std::uint64_t m_records = 0;    // records parsed
    std::string m_first_line;       // quoted, for the message when no record is found
    Record m_pending{};             // the first record, read by the constructor
    bool m_has_pending = false;

    // What the trace says besides its memory records.
    const bool m_kernel_calls;
    TraceArch m_arch = TraceArch::Unknown;
    bool m_arm64_header = false;      // an @trace line was read
    bool m_valgrind_header = false;   // a ==PID== line came before the first record
    std::vector<TraceMapping> m_mappings;
    std::uint64_t m_traced_calls = 0;
    // Records of the last call(s) not yet returned by next(), in stream order.
    std::vector<Record> m_queue;
    std::size_t m_queue_pos = 0;
    // The requests of recent Kernel records: m_calls[i] has index m_calls_base + i.
    std::deque<kernel::Syscall> m_calls;
    std::uint64_t m_calls_base = 0;
    std::uint64_t m_calls_delivered = 0;  // Kernel records returned (or handed to m_pending)
    std::uint64_t m_drop_before = 0;      // requests below this index are no longer needed
    // valgrind: calls whose result comes on a later line ([async] by thread, [pre-fail]).
    struct OpenCall {
        ValgrindSyscallLine start;
        std::uint64_t line = 0;
    };
    std::vector<OpenCall> m_async;
    bool m_has_prefail = false;
    OpenCall m_prefail;
    // valgrind does not name the file of an mmap: the paths of open descriptors, from the
    // open and openat calls.
    std::unordered_map<std::uint64_t, std::string> m_fd_paths;
};

std::unique_ptr<Source> open_lackey(const std::string& path, bool kernel_calls = true);

}  // namespace mmusim::workloads
