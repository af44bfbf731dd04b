// A Source over a valgrind lackey memory trace (valgrind --tool=lackey --trace-mem=yes),
// plain or compressed with gzip, xz or zstd.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "workloads/compressed_input.h"
#include "workloads/lackey_line.h"
#include "workloads/source.h"

namespace mmusim::workloads {

// Parses the text in place in one large buffer, so that memory does not grow with the trace
// and no line is copied. The constructor reads up to the first record, so that a file that is
// not a lackey trace fails when it is opened rather than in the middle of a run.
class LackeyReader : public Source {
public:
    static constexpr std::size_t kBufferSize = std::size_t{1} << 20;
    // A file with no record among its first lines is not a lackey trace.
    static constexpr std::uint64_t kProbeLines = 1000;

    explicit LackeyReader(const std::string& path);
    LackeyReader(const LackeyReader&) = delete;
    LackeyReader& operator=(const LackeyReader&) = delete;

    std::size_t next(Record* out, std::size_t max) override;
    const std::string& name() const override { return m_input.path(); }

    Compression compression() const { return m_input.compression(); }
    // Lines consumed so far, records or not.

private:
    std::size_t parse(Record* out, std::size_t max);
    void compact();
    bool refill();
    bool find_last_newline(std::size_t from);
    void drop_long_line();
    bool skip_rest_of_long_line(std::size_t from);
    bool finish_input();
    void note_skipped_line(const char* line);

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
};

std::unique_ptr<Source> open_lackey(const std::string& path);

}  // namespace mmusim::workloads
