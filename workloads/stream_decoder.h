// Decompressors that turn the bytes of a ChunkedFile into the bytes of the trace text.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>

#include "workloads/chunked_file.h"
#include "workloads/compression.h"

namespace mmusim::workloads {

// What went wrong in a compressed stream. The decoder only knows the stream; CompressedInput
// turns this into a message with the path and the place in the text.
struct DecodeProblem {
    enum class Kind { Truncated, Corrupt };
    Kind kind = Kind::Corrupt;
    std::string detail;  // the library's words for a corrupt stream
};

class StreamDecoder {
public:
    virtual ~StreamDecoder() = default;
    StreamDecoder(const StreamDecoder&) = delete;
    StreamDecoder& operator=(const StreamDecoder&) = delete;

    // Writes up to n bytes of decompressed data to out and returns how many; 0 at the end of
    // the data. Data decoded before a problem is returned first; the problem then shows in
    // problem() and every later call returns 0.
    std::size_t decode(char* out, std::size_t n);

    const std::optional<DecodeProblem>& problem() const { return m_problem; }

protected:
    enum class Status { Running, Finished };

    explicit StreamDecoder(ChunkedFile& in) : m_in(in) {}

    // One pass of the library over the unconsumed input (consuming from m_in), writing at most
    // n bytes at out; adds the count written to `produced`. `at_eof` says no input will
    // follow what m_in holds. A step that neither consumes nor produces at the end of the
    // file means the stream stopped short of its end marker.
    virtual Status step(char* out, std::size_t n, bool at_eof, std::size_t& produced) = 0;

    void corrupt(std::string detail);

    ChunkedFile& m_in;

private:
    std::optional<DecodeProblem> m_problem;
    bool m_eof = false;
    bool m_finished = false;
};

// A decoder for the given compression (None copies the bytes through). The caller has
// checked that the compression is one of None, Gzip, Xz and Zstd.
std::unique_ptr<StreamDecoder> make_stream_decoder(Compression compression, ChunkedFile& in);

}  // namespace mmusim::workloads
