#include "workloads/lackey_reader.h"

#include <cstdio>
#include <cstring>

#include "workloads/trace_syscalls.h"
#include "workloads/workload_error.h"

namespace mmusim::workloads {

namespace {

constexpr std::size_t kQuoteLength = 80;

const char* const kLackeyExample =
    "a trace of valgrind --tool=lackey --trace-mem=yes has lines such as \"I  04017e40,3\" "
    "and \" L 1ffefffd80,8\"";

// The line at p (up to its '\n', at most kQuoteLength bytes) in double quotes, with bytes
// that would garble a terminal written as \xNN.
std::string quote_line(const char* p, std::size_t available) {
    std::string text = "\"";
    std::size_t i = 0;
    for (; i < available && i < kQuoteLength && p[i] != '\n'; ++i) {
        const auto c = static_cast<unsigned char>(p[i]);
        if (c == '"' || c == '\\') {
            text += '\\';
            text += static_cast<char>(c);
        } else if (c >= 0x20 && c < 0x7f) {
            text += static_cast<char>(c);
        } else {
            char hex[5];
            std::snprintf(hex, sizeof hex, "\\x%02x", static_cast<unsigned>(c));
            text += hex;
        }
    }
    text += '"';
    if (i == kQuoteLength && i < available && p[i] != '\n') {
        text += "...";
    }
    return text;
}

// Whether a line that is cut short begins like a record, judged by its first three bytes.
bool begins_like_record(const char* p) {
    const char head[4] = {p[0], p[1], p[2], '\n'};
    const char* q = head;
    Record ignored;
    return parse_lackey_line(q, ignored) != LackeyLine::Other;
}

}  // namespace

LackeyReader::LackeyReader(const std::string& path, bool kernel_calls)
    : m_input(path), m_buf(std::make_unique_for_overwrite<char[]>(kBufferSize + 1)),
      m_kernel_calls(kernel_calls) {
    m_input.set_line_hook([this] { return m_line + 1; });
    m_has_pending = parse(&m_pending, 1) == 1;
    if (!m_has_pending) {
        fail_no_records();
    }
}

const kernel::Syscall* LackeyReader::syscall(std::uint64_t index) const {
    if (index < m_calls_base || index - m_calls_base >= m_calls.size()) {
        return nullptr;
    }
    return &m_calls[static_cast<std::size_t>(index - m_calls_base)];
}

std::size_t LackeyReader::next(Record* out, std::size_t max) {
    // The requests of the batch before the last one are replayed by now.
    while (m_calls_base < m_drop_before && !m_calls.empty()) {
        m_calls.pop_front();
        ++m_calls_base;
    }
    m_drop_before = m_calls_delivered;
    std::size_t n = 0;
    if (m_has_pending && max > 0) {
        out[0] = m_pending;
        m_has_pending = false;
        n = 1;
    }
    return n + parse(out + n, max - n);
}

std::size_t LackeyReader::parse(Record* out, std::size_t max) {
    std::size_t n = 0;
    while (n < max) {
        if (m_queue_pos != m_queue.size()) {
            n += drain(out + n, max - n);
            continue;
        }
        if (m_pos == m_lines_end && !refill()) {
            break;
        }
        // Locals, because stores through `out` could alias the members for the compiler.
        const char* p = m_buf.get() + m_pos;
        const char* const end = m_buf.get() + m_lines_end;
        std::uint64_t line = m_line;
        while (n < max && p < end) {
            const char* const start = p;
            const LackeyLine result = parse_lackey_line(p, out[n]);
            ++line;
            if (result == LackeyLine::Record) {
                ++n;
                continue;
            }
            if (result != LackeyLine::Other) {
                fail_malformed(start, line, result);
            }
            p = static_cast<const char*>(std::memchr(p, '\n', static_cast<std::size_t>(end - p))) + 1;
            if (m_records + n == 0) {
                m_line = line;
                note_skipped_line(start);
            }
            // Extension and system call lines are rare: checked here, off the record path.
            if ((*start == '@' || *start == 'S' || *start == ' ' || *start == '=') &&
                extension_line(start, static_cast<std::size_t>(p - start) - 1, line, m_records + n != 0)) {
                break;  // records of a system call to deliver first
            }
        }
        m_pos = static_cast<std::size_t>(p - m_buf.get());
        m_line = line;
    }
    m_records += n;
    return n;
}

// Moves the unfinished last line to the front of the buffer.
void LackeyReader::compact() {
    const std::size_t partial = m_end - m_pos;
    std::memmove(m_buf.get(), m_buf.get() + m_pos, partial);
    m_pos = 0;
    m_end = partial;
    m_lines_end = 0;
}

// Reads more text after the unfinished last line, until the buffer holds a complete line.
bool LackeyReader::refill() {
    compact();
    if (m_eof) {
        return false;
    }
    for (;;) {
        if (m_end == kBufferSize) {
            if (m_pos > 0) {
                compact();  // the end of a skipped long line left room
            } else {
                drop_long_line();
            }
        }
        const std::size_t from = m_end;
        const std::size_t got = m_input.read(m_buf.get() + m_end, kBufferSize - m_end);
        if (got == 0) {
            return finish_input();
        }
        m_end += got;
        if (m_skipping && !skip_rest_of_long_line(from)) {
            continue;
        }
        if (find_last_newline(from)) {
            return true;
        }
    }
}

bool LackeyReader::find_last_newline(std::size_t from) {
    const std::size_t stop = from > m_pos ? from : m_pos;
    for (std::size_t i = m_end; i > stop; --i) {
        if (m_buf[i - 1] == '\n') {
            m_lines_end = i;
            return true;
        }
    }
    return false;
}

// The buffer is full and holds no '\n'. A record is never that long, so the line is an
// error if it starts like one; any other line (program output, binary junk) is skipped
// without keeping it.
void LackeyReader::drop_long_line() {
    if (begins_like_record(m_buf.get())) {
        fail_malformed(m_buf.get(), m_line + 1, LackeyLine::LongLine);
    }
    if (m_line == 0) {
        m_first_line = quote_line(m_buf.get(), m_end);
    }
    m_end = 0;
    m_skipping = true;
}

bool LackeyReader::skip_rest_of_long_line(std::size_t from) {
    const void* newline = std::memchr(m_buf.get() + from, '\n', m_end - from);
    if (newline == nullptr) {
        m_end = 0;
        return false;
    }
    m_pos = static_cast<std::size_t>(static_cast<const char*>(newline) - m_buf.get()) + 1;
    m_skipping = false;
    ++m_line;
    if (m_records == 0 && m_line >= kProbeLines) {
        fail_no_records();
    }
    return true;
}

// The text has ended; a last line without '\n' gets one so that it parses like the others.
bool LackeyReader::finish_input() {
    m_eof = true;
    if (m_skipping) {
        m_skipping = false;
        ++m_line;
        return false;
    }
    if (m_end == m_pos) {
        return false;
    }
    m_buf[m_end++] = '\n';
    m_lines_end = m_end;
    return true;
}

void LackeyReader::note_skipped_line(const char* line) {
    if (m_line == 1) {
        m_first_line = quote_line(line, kQuoteLength + 1);
    }
    if (m_line >= kProbeLines) {
        fail_no_records();
    }
}

// Moves queued records of system calls into `out`.
std::size_t LackeyReader::drain(Record* out, std::size_t max) {
    std::size_t n = 0;
    for (; n < max && m_queue_pos < m_queue.size(); ++n) {
        const Record& r = m_queue[m_queue_pos++];
        if (r.kind == AccessKind::Kernel) {
            m_calls_delivered = r.va + 1;
        }
        out[n] = r;
    }
    if (m_queue_pos == m_queue.size()) {
        m_queue.clear();
        m_queue_pos = 0;
    }
    return n;
}

// A line that is not a record and begins with '@', 'S', ' ' or '='. Returns whether it queued
// records (those of a system call).
bool LackeyReader::extension_line(const char* start, std::size_t length, std::uint64_t line,
                                  bool after_records) {
    std::string_view text(start, length);
    if (!text.empty() && text.back() == '\r') {
        text.remove_suffix(1);
    }
    const TraceLineKind kind = trace_line_kind(text);
    try {
        switch (kind) {
            case TraceLineKind::None:
            case TraceLineKind::UnknownAt:  // a later extension: skipped, as records skip it
                return false;
            case TraceLineKind::ValgrindHeader:
                if (!after_records && m_traced_calls == 0) {
                    m_valgrind_header = true;
                    if (!m_arm64_header) {
                        m_arch = TraceArch::X86_64;
                    }
                }
                return false;
            case TraceLineKind::Header:
                if (line != 1) {
                    throw TraceLineError{"it is line " + std::to_string(line) + " of the trace",
                                         "@trace only as the first line, e.g. \"@trace arm64 4096\""};
                }
                m_arch = parse_trace_header(text);
                m_arm64_header = true;
                return false;
            case TraceLineKind::Map: {
                if (after_records || m_traced_calls != 0) {
                    throw TraceLineError{"it comes after the first record or system call",
                                         "the @map lines (the address space at exec) before the first "
                                         "record, right after the @trace line"};
                }
                if (!m_arm64_header) {
                    throw TraceLineError{"there is no @trace line before it",
                                         "\"@trace arm64 4096\" as the first line of a trace with @map lines"};
                }
                TraceMapping m = parse_map_line(text);
                m.line = line;
                if (!m_mappings.empty() && m.start < m_mappings.back().end) {
                    const TraceMapping& prev = m_mappings.back();
                    throw TraceLineError{
                        "it starts below the end of the mapping on line " + std::to_string(prev.line) +
                            (m.start < prev.start ? " (the lines are not sorted by START)"
                                                  : " (the mappings overlap)"),
                        "the @map lines sorted by START, each starting at or above the END of the one "
                        "before"};
                }
                m_mappings.push_back(std::move(m));
                return false;
            }
            case TraceLineKind::Sys: {
                if (!m_arm64_header) {
                    throw TraceLineError{"there is no @trace line before it",
                                         "\"@trace arm64 4096\" as the first line of a trace with @sys lines"};
                }
                TraceSyscall call = parse_sys_line(text);
                call.line = line;
                return take_call(call);
            }
            case TraceLineKind::Valgrind:
            case TraceLineKind::ValgrindOutcome:
                if (m_arm64_header) {
                    throw TraceLineError{"it is a system call line of valgrind in an arm64 trace",
                                         "@sys lines only, after \"@trace arm64 4096\""};
                }
                valgrind_line(text, line);
                return m_queue_pos != m_queue.size();
        }
    } catch (const TraceLineError& error) {
        const char* what = kind == TraceLineKind::Header ? "an @trace"
                         : kind == TraceLineKind::Map    ? "an @map"
                         : kind == TraceLineKind::Sys    ? "an @sys"
                                                         : "a valgrind system call";
        fail_line(start, line, what, error);
    }
    return false;
}

void LackeyReader::valgrind_line(std::string_view text, std::uint64_t line) {
    ValgrindSyscallLine parsed = parse_valgrind_syscall_line(text);
    using Kind = ValgrindSyscallLine::Kind;
    switch (parsed.kind) {
        case Kind::Complete: {
            TraceSyscall call = parsed.call;
            call.line = line;
            finish_valgrind_call(std::move(call), parsed);
            return;
        }
        case Kind::AsyncStart:
        case Kind::PreFailStart: {
            parsed.call.line = line;
            OpenCall open{std::move(parsed), line};
            if (open.start.kind == Kind::PreFailStart) {
                m_prefail = std::move(open);
                m_has_prefail = true;
                return;
            }
            for (OpenCall& c : m_async) {
                if (c.start.key == open.start.key) {
                    c = std::move(open);  // the thread's earlier call never returned
                    return;
                }
            }
            m_async.push_back(std::move(open));
            return;
        }
        case Kind::AsyncEnd:
            for (std::size_t i = 0; i < m_async.size(); ++i) {
                if (m_async[i].start.key != parsed.key || m_async[i].start.number != parsed.number) {
                    continue;
                }
                const OpenCall open = std::move(m_async[i]);
                m_async.erase(m_async.begin() + static_cast<std::ptrdiff_t>(i));
                TraceSyscall call = open.start.call;
                call.returned = parsed.call.returned;
                call.result = parsed.call.result;
                finish_valgrind_call(std::move(call), open.start);
                return;
            }
            throw TraceLineError{"no earlier \"SYSCALL[" + parsed.key + "](" + std::to_string(parsed.number) +
                                     ") ... --> [async] ... \" line of the same thread and call is waiting for "
                                     "this result",
                                 "the [async] result line after the line that starts the call"};
        case Kind::PreFailEnd: {
            if (!m_has_prefail) {
                throw TraceLineError{"no SYSCALL line without an outcome comes before it",
                                     "\" --> [pre-fail] Failure(0xERRNO)\" only after a SYSCALL line of "
                                     "valgrind's own message (such as an unimplemented call)"};
            }
            m_has_prefail = false;
            TraceSyscall call = m_prefail.start.call;
            call.result = parsed.call.result;
            finish_valgrind_call(std::move(call), m_prefail.start);
            return;
        }
    }
}

void LackeyReader::finish_valgrind_call(TraceSyscall call, const ValgrindSyscallLine& start) {
    const auto& name = call.name;
    if (trace_syscall_uses_args(name)) {
        for (unsigned i = 0; i < start.args; ++i) {
            if ((start.numeric_args >> i & 1u) == 0) {
                throw TraceLineError{"argument " + std::to_string(i + 1) + " of " + name + " is not a number",
                                     "decimal, -decimal or 0x-hex arguments for the calls the model replays"};
            }
        }
    }
    // Descriptors and their files, for the paths of later mmaps.
    if (call.result >= 0) {
        const auto fd = static_cast<std::uint64_t>(call.result);
        if (name == "openat" || name == "openat2") {
            m_fd_paths[fd] = start.strings[1];
        } else if (name == "open" || name == "creat") {
            m_fd_paths[fd] = start.strings[0];
        } else if (name == "close") {
            m_fd_paths.erase(call.args[0]);
        } else if (name == "dup" || name == "dup2" || name == "dup3") {
            const auto it = m_fd_paths.find(call.args[0]);
            if (it != m_fd_paths.end()) {
                m_fd_paths[fd] = it->second;
            }
        }
    }
    if (name == "mmap" && (call.args[3] & 0x20) == 0) {
        const auto it = m_fd_paths.find(call.args[4]);
        call.path = it != m_fd_paths.end() ? it->second : "(fd " + std::to_string(call.args[4]) + ")";
    }
    take_call(call);
}

// Translates a call and queues its records.
bool LackeyReader::take_call(const TraceSyscall& call) {
    ++m_traced_calls;
    const TraceArch arch = m_arch == TraceArch::Unknown ? TraceArch::X86_64 : m_arch;
    TranslatedSyscall t = translate_trace_syscall(call, arch, name() + ":" + std::to_string(call.line));
    if (!m_kernel_calls) {
        return false;
    }
    for (kernel::Syscall& s : t.calls) {
        m_queue.push_back(Record{m_calls_base + m_calls.size(), 0, AccessKind::Kernel, 0, 0});
        m_calls.push_back(std::move(s));
    }
    m_queue.insert(m_queue.end(), t.accesses.begin(), t.accesses.end());
    return m_queue_pos != m_queue.size();
}

void LackeyReader::fail_line(const char* line, std::uint64_t number, const char* what,
                             const TraceLineError& error) const {
    throw WorkloadError(name() + ":" + std::to_string(number) + ": " + quote_line(line, kQuoteLength + 1) +
                        " is not " + what + " line that the model can read: " + error.problem +
                        "; expected " + error.expected);
}

void LackeyReader::fail_malformed(const char* line, std::uint64_t number,
                                  LackeyLine problem) const {
    throw WorkloadError(name() + ":" + std::to_string(number) + ": " +
                        quote_line(line, kQuoteLength + 1) +
                        " begins like a lackey record but is not one (" +
                        lackey_line_problem(problem) +
                        "); expected a hex address, a comma and a decimal size, e.g. "
                        "\" L 1ffefffd80,8\"");
}

void LackeyReader::fail_no_records() const {
    if (m_line == 0) {
        throw WorkloadError(name() + " contains no records: the file is empty");
    }
    if (m_line >= kProbeLines) {
        throw WorkloadError(name() + " is not a lackey trace: none of its first " +
                            std::to_string(kProbeLines) +
                            " lines is a memory record, and the first line is " + m_first_line +
                            "; " + kLackeyExample);
    }
    const std::string lines = m_line == 1 ? "its only line is not a memory record ("
                                          : "none of its " + std::to_string(m_line) +
                                                " lines is a memory record (the first is ";
    throw WorkloadError(name() + " contains no records: " + lines + m_first_line + "); " +
                        kLackeyExample);
}

std::unique_ptr<Source> open_lackey(const std::string& path, bool kernel_calls) {
    return std::make_unique<LackeyReader>(path, kernel_calls);
}

}  // namespace mmusim::workloads
