#include "workloads/trace_lines.h"

#include <limits>

namespace mmusim::workloads {

namespace {

const char* const kTraceForm = "\"@trace arm64 4096\" (the architecture, arm64, and the page size in bytes, 4096)";
const char* const kMapForm =
    "\"@map START END PROT OFFSET NAME\": START and END (exclusive) hex without 0x, 4096-aligned, "
    "START below END; PROT four characters [r-][w-][x-][ps]; OFFSET hex; NAME a path, [stack], [heap], "
    "[vdso], [vvar] or - (anonymous), e.g. \"@map 5500000000 550001a000 r-xp 00000000 /usr/bin/sort\"";
const char* const kSysForm =
    "\"@sys NAME A0 A1 A2 A3 A4 A5 = RESULT [PATH]\": six hex arguments without 0x, RESULT hex or -ERRNO "
    "(decimal), PATH only on an mmap of a file, and no \"= RESULT\" only for exit and exit_group, e.g. "
    "\"@sys mmap 0 6e3 1 2 4 0 = 5502875000 /etc/ld.so.cache\"";
const char* const kValgrindForm =
    "a system call line of valgrind 3.19 --trace-syscalls=yes: \"SYSCALL[PID,TID](NR) NAME ( ARGS )\" then "
    "\"--> [pre-success] Success(0xVALUE)\", \"--> [pre-fail] Failure(0xERRNO)\", \"[sync] --> Success(0xVALUE)\" "
    "or \"--> [async] ... \" (and later \"SYSCALL[PID,TID](NR) ... [async] --> Success(0xVALUE)\"), e.g. "
    "\"SYSCALL[12547,1](10) sys_mprotect ( 0x4a44000, 16384, 1 )[sync] --> Success(0x0) \"";

[[noreturn]] void fail(std::string problem, const char* expected) {
    throw TraceLineError{std::move(problem), expected};
}

std::string quoted(std::string_view text) {
    // Appended piece by piece: `"\"" + std::string(text)` trips GCC 12's -Wrestrict at -O3.
    std::string out;
    out.reserve(text.size() + 2);
    out += '"';
    out += text;
    out += '"';
    return out;
}

bool starts_with(std::string_view text, std::string_view prefix) {
    return text.substr(0, prefix.size()) == prefix;
}

int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// 1 to 16 hex digits and nothing else.
bool parse_hex(std::string_view text, std::uint64_t& value) {
    if (text.empty() || text.size() > 16) return false;
    value = 0;
    for (const char c : text) {
        const int d = hex_digit(c);
        if (d < 0) return false;
        value = (value << 4) | static_cast<unsigned>(d);
    }
    return true;
}

bool parse_decimal(std::string_view text, std::uint64_t& value) {
    if (text.empty()) return false;
    value = 0;
    for (const char c : text) {
        if (c < '0' || c > '9') return false;
        const auto d = static_cast<std::uint64_t>(c - '0');
        if (value > (std::numeric_limits<std::uint64_t>::max() - d) / 10) return false;
        value = value * 10 + d;
    }
    return true;
}

std::string_view trim_end(std::string_view text) {
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r')) text.remove_suffix(1);
    return text;
}

std::string_view trim(std::string_view text) {
    text = trim_end(text);
    while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
    return text;
}

// The next blank-separated field of `rest` (which loses it and one blank after it).
std::string_view take_field(std::string_view& rest) {
    const std::size_t blank = rest.find(' ');
    const std::string_view field = rest.substr(0, blank);
    rest = blank == std::string_view::npos ? std::string_view() : rest.substr(blank + 1);
    return field;
}

// An errno value as Linux returns it: 1 to 4095.
constexpr std::uint64_t kMaxErrno = 4095;

}  // namespace

TraceLineKind trace_line_kind(std::string_view line) {
    if (line.empty()) return TraceLineKind::None;
    switch (line[0]) {
        case '@':
            if (starts_with(line, "@trace ") || line == "@trace") return TraceLineKind::Header;
            if (starts_with(line, "@map ") || line == "@map") return TraceLineKind::Map;
            if (starts_with(line, "@sys ") || line == "@sys") return TraceLineKind::Sys;
            return TraceLineKind::UnknownAt;
        case 'S': return starts_with(line, "SYSCALL[") ? TraceLineKind::Valgrind : TraceLineKind::None;
        case ' ': return starts_with(line, " --> [") ? TraceLineKind::ValgrindOutcome : TraceLineKind::None;
        case '=': {
            std::size_t i = 2;
            if (!starts_with(line, "==")) return TraceLineKind::None;
            while (i < line.size() && line[i] >= '0' && line[i] <= '9') ++i;
            return i > 2 && line.substr(i, 2) == "==" ? TraceLineKind::ValgrindHeader : TraceLineKind::None;
        }
        default: return TraceLineKind::None;
    }
}

TraceArch parse_trace_header(std::string_view line) {
    std::string_view rest = trim_end(line);
    take_field(rest);  // "@trace"
    const std::string_view arch = take_field(rest);
    const std::string_view page = take_field(rest);
    if (arch.empty() || page.empty() || !rest.empty())
        fail("it does not have exactly two fields after @trace", kTraceForm);
    if (arch != "arm64") fail("the architecture " + quoted(arch) + " is not one the model replays", kTraceForm);
    std::uint64_t size = 0;
    if (!parse_decimal(page, size)) fail("the page size " + quoted(page) + " is not a decimal number", kTraceForm);
    if (size != kTracePageSize)
        fail("the page size is " + std::string(page) + " bytes, and the model replays traces of 4096-byte pages only",
             kTraceForm);
    return TraceArch::Arm64;
}

TraceMapping parse_map_line(std::string_view line) {
    std::string_view rest = trim_end(line);
    take_field(rest);  // "@map"
    const std::string_view start = take_field(rest);
    const std::string_view end = take_field(rest);
    const std::string_view prot = take_field(rest);
    const std::string_view offset = take_field(rest);
    const std::string_view name = rest;
    if (name.empty()) fail("it has fewer than five fields after @map", kMapForm);
    TraceMapping m;
    if (!parse_hex(start, m.start)) fail("START " + quoted(start) + " is not 1 to 16 hex digits", kMapForm);
    if (!parse_hex(end, m.end)) fail("END " + quoted(end) + " is not 1 to 16 hex digits", kMapForm);
    if (!parse_hex(offset, m.offset)) fail("OFFSET " + quoted(offset) + " is not 1 to 16 hex digits", kMapForm);
    if (m.start >= m.end) fail("START " + std::string(start) + " is not below END " + std::string(end), kMapForm);
    if (m.start % kTracePageSize != 0 || m.end % kTracePageSize != 0)
        fail("START " + std::string(start) + " or END " + std::string(end) + " is not a multiple of 4096 (hex 1000)",
             kMapForm);
    if (prot.size() != 4 || (prot[0] != 'r' && prot[0] != '-') || (prot[1] != 'w' && prot[1] != '-') ||
        (prot[2] != 'x' && prot[2] != '-') || (prot[3] != 'p' && prot[3] != 's'))
        fail("PROT " + quoted(prot) + " is not of the form [r-][w-][x-][ps]", kMapForm);
    m.read = prot[0] == 'r';
    m.write = prot[1] == 'w';
    m.exec = prot[2] == 'x';
    m.shared = prot[3] == 's';
    m.name = name == "-" ? std::string() : std::string(name);
    return m;
}

TraceSyscall parse_sys_line(std::string_view line) {
    std::string_view rest = trim_end(line);
    take_field(rest);  // "@sys"
    TraceSyscall call;
    const std::string_view name = take_field(rest);
    if (name.empty()) fail("the call's NAME is missing", kSysForm);
    call.name = std::string(name);
    for (unsigned i = 0; i < 6; ++i) {
        const std::string_view arg = take_field(rest);
        if (arg.empty()) fail("it has " + std::to_string(i) + " arguments instead of six", kSysForm);
        if (!parse_hex(arg, call.args[i]))
            fail("argument A" + std::to_string(i) + " " + quoted(arg) + " is not 1 to 16 hex digits", kSysForm);
    }
    if (rest.empty()) {
        if (name != "exit" && name != "exit_group")
            fail("it has no \"= RESULT\", which only exit and exit_group may omit", kSysForm);
        call.returned = false;
        return call;
    }
    if (take_field(rest) != "=")
        fail("the six arguments are followed by something other than \" = RESULT\"", kSysForm);
    const std::string_view result = take_field(rest);
    std::uint64_t value = 0;
    if (!result.empty() && result[0] == '-') {
        if (!parse_decimal(result.substr(1), value) || value == 0 || value > kMaxErrno)
            fail("the error result " + quoted(result) + " is not -1 to -4095", kSysForm);
        call.result = -static_cast<std::int64_t>(value);
    } else {
        if (!parse_hex(result, value) || value > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
            fail("RESULT " + quoted(result) + " is neither hex (at most 7fffffffffffffff) nor -ERRNO", kSysForm);
        call.result = static_cast<std::int64_t>(value);
    }
    if (!rest.empty()) {
        if (name != "mmap") fail("it has a PATH, which only an mmap has", kSysForm);
        call.path = std::string(rest);
    }
    return call;
}

namespace {

// "Success(0xVALUE)", "Failure(0xERRNO)" or (pre-success only) "NoWriteResult", then blanks.
void parse_outcome(std::string_view text, TraceSyscall& call) {
    text = trim_end(text);
    if (text == "NoWriteResult") {
        call.result = 0;
        return;
    }
    const bool success = starts_with(text, "Success(");
    if ((!success && !starts_with(text, "Failure(")) || text.back() != ')')
        fail("the outcome " + quoted(text) + " is not Success(0xVALUE) or Failure(0xERRNO)", kValgrindForm);
    std::string_view number = text.substr(8, text.size() - 9);
    if (starts_with(number, "0x")) number.remove_prefix(2);
    std::uint64_t value = 0;
    if (!parse_hex(number, value)) fail("the outcome " + quoted(text) + " has no hex value", kValgrindForm);
    if (success) {
        if (value > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
            fail("the result " + quoted(text) + " is above 0x7fffffffffffffff", kValgrindForm);
        call.result = static_cast<std::int64_t>(value);
    } else {
        if (value == 0 || value > kMaxErrno)
            fail("the error number in " + quoted(text) + " is not 1 to 4095", kValgrindForm);
        call.result = -static_cast<std::int64_t>(value);
    }
}

// One argument as valgrind prints it: decimal, -decimal, 0x-hex, or hex without 0x (as in
// arch_prctl's). Returns false for anything else.
bool parse_valgrind_number(std::string_view text, std::uint64_t& value) {
    if (starts_with(text, "0x")) return parse_hex(text.substr(2), value);
    if (starts_with(text, "-")) {
        if (!parse_decimal(text.substr(1), value)) return false;
        value = ~value + 1;
        return true;
    }
    return parse_decimal(text, value) || parse_hex(text, value);
}

// The arguments between the parentheses: "4, 0x1ffeffecc8, 832" or, with strings,
// "4294967196, 0x1ffefff620(/usr/lib/debug), 0x1ffefff6e0". A string ends at the first ')'
// that is followed by ", " or ends the list (a path holding "), " is cut there).
void parse_valgrind_args(std::string_view args, ValgrindSyscallLine& out) {
    args = trim(args);
    std::size_t pos = 0;
    while (pos < args.size()) {
        if (out.args == 6) fail("it has more than six arguments", kValgrindForm);
        const unsigned i = out.args++;
        std::size_t stop = pos;
        while (stop < args.size() && args[stop] != ',' && args[stop] != '(') ++stop;
        const std::string_view number = trim(args.substr(pos, stop - pos));
        if (parse_valgrind_number(number, out.call.args[i])) out.numeric_args |= 1u << i;
        if (stop < args.size() && args[stop] == '(') {
            std::size_t close = stop + 1;
            for (;; ++close) {
                close = args.find(')', close);
                if (close == std::string_view::npos)
                    fail("the string of argument " + std::to_string(i + 1) + " has no closing ')'", kValgrindForm);
                if (close + 1 == args.size() || args.substr(close + 1, 2) == ", ") break;
            }
            out.strings[i] = std::string(args.substr(stop + 1, close - stop - 1));
            stop = close + 1;
        }
        if (stop == args.size()) break;
        if (args[stop] != ',') fail("argument " + std::to_string(i + 1) + " is not followed by a comma", kValgrindForm);
        pos = stop + 1;
        if (pos == args.size()) fail("the argument list ends with a comma", kValgrindForm);
    }
}

// Valgrind's name of a call without its "sys_" prefix and without a "[...]" qualifier
// (sys_fcntl[ARG3=='lock']).
std::string valgrind_name(std::string_view name) {
    const std::size_t bracket = name.find('[');
    if (bracket != std::string_view::npos) name = name.substr(0, bracket);
    if (starts_with(name, "sys_") && name.size() > 4 && !(name[4] >= '0' && name[4] <= '9')) name.remove_prefix(4);
    return std::string(name);
}

}  // namespace

ValgrindSyscallLine parse_valgrind_syscall_line(std::string_view line) {
    line = trim_end(line);
    ValgrindSyscallLine out;
    if (starts_with(line, " --> [pre-fail] ")) {
        out.kind = ValgrindSyscallLine::Kind::PreFailEnd;
        parse_outcome(line.substr(16), out.call);
        return out;
    }
    if (starts_with(line, " --> ")) fail("a line of its own that starts with \"-->\" is not \" --> [pre-fail] ...\"", kValgrindForm);
    // SYSCALL[PID,TID](NR) 
    const std::size_t close_key = line.find("](");
    const std::size_t close_number = line.find(") ", close_key == std::string_view::npos ? 0 : close_key);
    std::uint64_t pid = 0, tid = 0;
    const std::size_t comma = line.find(',');
    if (close_key == std::string_view::npos || close_number == std::string_view::npos || comma > close_key ||
        !parse_decimal(line.substr(8, comma - 8), pid) ||
        !parse_decimal(line.substr(comma + 1, close_key - comma - 1), tid) ||
        !parse_decimal(line.substr(close_key + 2, close_number - close_key - 2), out.number))
        fail("it does not begin with \"SYSCALL[PID,TID](NR) \" (decimal numbers)", kValgrindForm);
    out.key = std::to_string(pid) + "," + std::to_string(tid);
    const std::string_view rest = line.substr(close_number + 2);
    if (starts_with(rest, "... [async] --> ")) {
        out.kind = ValgrindSyscallLine::Kind::AsyncEnd;
        parse_outcome(rest.substr(16), out.call);
        return out;
    }
    const std::size_t arrow = rest.rfind("--> ");
    if (arrow == std::string_view::npos) {
        // Valgrind's own message, e.g. "unimplemented (by the kernel) syscall: 334! (ni_syscall)".
        out.kind = ValgrindSyscallLine::Kind::PreFailStart;
        out.call.name = "sys_" + std::to_string(out.number);
        return out;
    }
    std::string_view head = trim_end(rest.substr(0, arrow));
    std::string_view tail = rest.substr(arrow + 4);
    const bool sync = head.size() >= 6 && head.substr(head.size() - 6) == "[sync]";
    if (sync) {
        head = trim_end(head.substr(0, head.size() - 6));
        parse_outcome(tail, out.call);
    } else if (starts_with(tail, "[pre-success] ")) {
        parse_outcome(tail.substr(14), out.call);
    } else if (starts_with(tail, "[pre-fail] ")) {
        parse_outcome(tail.substr(11), out.call);
        if (out.call.result >= 0) fail("a [pre-fail] outcome is not a Failure", kValgrindForm);
    } else if (trim_end(tail) == "[async] ...") {
        out.kind = ValgrindSyscallLine::Kind::AsyncStart;
    } else {
        fail("\"-->\" is followed by " + quoted(trim_end(tail)) +
                 " instead of [pre-success], [pre-fail], [async] ... or (after [sync]) the outcome",
             kValgrindForm);
    }
    const std::size_t open = head.find('(');
    if (open == std::string_view::npos || head.empty() || head.back() != ')')
        fail("the call is not written as NAME ( ARGS )", kValgrindForm);
    const std::string_view name = trim_end(head.substr(0, open));
    if (name.empty() || name.find(' ') != std::string_view::npos)
        fail("the call's name " + quoted(name) + " is empty or has blanks", kValgrindForm);
    out.call.name = valgrind_name(name);
    parse_valgrind_args(head.substr(open + 1, head.size() - open - 2), out);
    for (unsigned i = 0; i < out.args; ++i) {
        if ((out.numeric_args >> i & 1u) == 0) out.call.args[i] = 0;
    }
    return out;
}

}  // namespace mmusim::workloads
