// A trace file read as a stream of text bytes, decompressed on the way when it is compressed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "workloads/chunked_file.h"
#include "workloads/compression.h"
#include "workloads/stream_decoder.h"

namespace mmusim::workloads {

// gzip, xz and zstd are recognised by their magic bytes (see compression.h); anything else is
// read as it is. Errors are WorkloadErrors with a message for people naming the path.
class CompressedInput {
public:
    // Tells which line of the text the consumer is on, so that an error in the compressed
    // stream can say where the text stopped. Called only when an error is reported.
    using LineHook = std::function<std::uint64_t()>;

    explicit CompressedInput(const std::string& path);
    ~CompressedInput();
    CompressedInput(const CompressedInput&) = delete;
    CompressedInput& operator=(const CompressedInput&) = delete;

    // Fills up to n bytes of text into buf; returns how many, 0 at the end of the text.
    std::size_t read(char* buf, std::size_t n);

    Compression compression() const { return m_compression; }
    const std::string& path() const { return m_file.path(); }
    // Bytes of text delivered so far.
    std::uint64_t position() const { return m_position; }

    void set_line_hook(LineHook hook) { m_line_hook = std::move(hook); }

private:
    [[noreturn]] void fail(const DecodeProblem& problem) const;
    std::string where() const;

    ChunkedFile m_file;
    Compression m_compression = Compression::None;
    std::unique_ptr<StreamDecoder> m_decoder;
    std::uint64_t m_position = 0;
    LineHook m_line_hook;
};

}  // namespace mmusim::workloads
