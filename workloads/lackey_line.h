// The syntax of one line of a valgrind lackey memory trace (--tool=lackey --trace-mem=yes).
//
//   I  04017e40,3         instruction fetch: 'I' and two spaces
//    L 1ffefffd80,8       load
//    S 1ffefffd80,8       store
//    M 0402a0a8,4         modify (read-modify-write)
//
// The address is hex without 0x (up to 16 digits, either case), the size decimal bytes.
// Everything else valgrind writes (==pid== headers, program output, ...) is not a record.
#pragma once

#include <cstdint>

#include "workloads/record.h"

namespace mmusim::workloads {

// lackey never reports more than 512 bytes per access; larger sizes are accepted up to this
// bound so that traces of other tools in the same format load too.
inline constexpr std::uint32_t kLackeyMaxSize = 65536;

enum class LackeyLine : std::uint8_t {
    Record,          // parsed into the record
    Other,           // not a record: to be skipped
    BadIfetch,       // "I " not followed by a second space
    NoAddress,       // no hex digit where the address belongs
    LongAddress,     // more than 16 hex digits
    NoComma,         // the address is not followed by ','
    NoSize,          // no decimal digit after ','
    ZeroSize,        // size 0: lackey never reports one
    LargeSize,       // size above kLackeyMaxSize
    TrailingText,    // something other than blanks after the size
    LongLine,        // (from the reader) a record-like line longer than its buffer
};

// What a malformed line lacks, in words for an error message.
const char* lackey_line_problem(LackeyLine result);

namespace detail {

struct HexTable {
    std::uint8_t value[256];
    constexpr HexTable() : value() {
        for (int c = 0; c < 256; ++c) {
            value[c] = 0xff;
        }
        for (int d = 0; d < 10; ++d) {
            value['0' + d] = static_cast<std::uint8_t>(d);
        }
        for (int d = 0; d < 6; ++d) {
            value['a' + d] = static_cast<std::uint8_t>(10 + d);
            value['A' + d] = static_cast<std::uint8_t>(10 + d);
        }
    }
};

inline constexpr HexTable kHex{};

inline LackeyLine parse_lackey_fields(const char*& p, AccessKind kind, Record& out) {
    const char* q = p;
    std::uint64_t va = 0;
    std::uint8_t digit;
    while ((digit = kHex.value[static_cast<unsigned char>(*q)]) != 0xff) {
        va = (va << 4) | digit;
        ++q;
    }
    if (q == p) {
        return LackeyLine::NoAddress;
    }
    if (q - p > 16) {
        return LackeyLine::LongAddress;
    }
    if (*q != ',') {
        return LackeyLine::NoComma;
    }
    const char* const digits = ++q;
    std::uint32_t size = 0;
    for (unsigned d; (d = static_cast<unsigned char>(*q) - unsigned{'0'}) < 10; ++q) {
        if (size > kLackeyMaxSize) {
            return LackeyLine::LargeSize;  // stop before the value can overflow
        }
        size = size * 10 + d;
    }
    if (q == digits) {
        return LackeyLine::NoSize;
    }
    if (size == 0) {
        return LackeyLine::ZeroSize;
    }
    if (size > kLackeyMaxSize) {
        return LackeyLine::LargeSize;
    }
    while (*q == ' ' || *q == '\t' || *q == '\r') {
        ++q;
    }
    if (*q != '\n') {
        return LackeyLine::TrailingText;
    }
    // The whole record (process 0, no flags): the caller's buffer may hold a kernel access
    // of an earlier batch there.
    out = Record{va, size, kind, 0, 0};
    p = q + 1;
    return LackeyLine::Record;
}

}  // namespace detail

// Parses the line at p, which must end in '\n'. On Record, fills `out` and moves p past the
// '\n'; otherwise leaves p alone (and `out` unspecified). Reads no byte past the '\n'.
inline LackeyLine parse_lackey_line(const char*& p, Record& out) {
    const char* q = p;
    AccessKind kind;
    if (q[0] == 'I' && q[1] == ' ') {
        if (q[2] != ' ') {
            return LackeyLine::BadIfetch;
        }
        kind = AccessKind::Ifetch;
    } else if (q[0] == ' ' && q[1] != '\n' && q[2] == ' ') {
        switch (q[1]) {
            case 'L': kind = AccessKind::Load; break;
            case 'S': kind = AccessKind::Store; break;
            case 'M': kind = AccessKind::Modify; break;
            default: return LackeyLine::Other;
        }
    } else {
        return LackeyLine::Other;
    }
    q += 3;
    const LackeyLine result = detail::parse_lackey_fields(q, kind, out);
    if (result == LackeyLine::Record) {
        p = q;
    }
    return result;
}

}  // namespace mmusim::workloads
