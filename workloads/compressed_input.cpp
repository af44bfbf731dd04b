#include "workloads/compressed_input.h"

#include "workloads/workload_error.h"

namespace mmusim::workloads {

namespace {

// Fills the buffer until it holds enough bytes to tell the format, or the file ends.
void read_magic(ChunkedFile& file) {
    while (file.size() < kCompressionMagicSize && file.refill()) {
    }
}

}  // namespace

CompressedInput::CompressedInput(const std::string& path) : m_file(path) {
    read_magic(m_file);
    m_compression = detect_compression(m_file.data(), m_file.size());
    if (m_compression == Compression::Bzip2) {
        throw WorkloadError(path + " is compressed with bzip2, which is not supported: "
                            "decompress it, or recompress it with gzip, xz or zstd");
    }
    m_decoder = make_stream_decoder(m_compression, m_file);
}

CompressedInput::~CompressedInput() = default;

std::size_t CompressedInput::read(char* buf, std::size_t n) {
    const std::size_t got = m_decoder->decode(buf, n);
    m_position += got;
    if (got == 0 && n > 0 && m_decoder->problem()) {
        fail(*m_decoder->problem());
    }
    return got;
}

std::string CompressedInput::where() const {
    std::string text = std::to_string(m_position) + " bytes of decompressed data";
    if (m_line_hook) {
        text += " (near line " + std::to_string(m_line_hook()) + ")";
    }
    return text;
}

void CompressedInput::fail(const DecodeProblem& problem) const {
    const std::string format = compression_name(m_compression);
    if (problem.kind == DecodeProblem::Kind::Truncated) {
        throw WorkloadError(path() + ": the " + format + " stream is truncated: it ended after " +
                            where() +
                            " without its end marker; the file was probably cut short while "
                            "being written or copied");
    }
    throw WorkloadError(path() + ": the " + format + " stream is corrupt after " + where() +
                        " (" + problem.detail + "); the file is damaged (`" + format + " -t " + path() +
                        "` checks it)");
}

}  // namespace mmusim::workloads
