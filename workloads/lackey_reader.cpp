#include "workloads/lackey_reader.h"

#include <cstdio>
#include <cstring>

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

LackeyReader::LackeyReader(const std::string& path)
    : m_input(path), m_buf(std::make_unique_for_overwrite<char[]>(kBufferSize + 1)) {
    m_input.set_line_hook([this] { return m_line + 1; });
    m_has_pending = parse(&m_pending, 1) == 1;
    if (!m_has_pending) {
        fail_no_records();
    }
}

std::size_t LackeyReader::next(Record* out, std::size_t max) {
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

std::unique_ptr<Source> open_lackey(const std::string& path) {
    return std::make_unique<LackeyReader>(path);
}

}  // namespace mmusim::workloads
