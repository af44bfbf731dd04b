// A file read in large chunks into one reusable buffer, for the decompressors to consume.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace mmusim::workloads {

// Plain POSIX reads into a fixed buffer: no iostreams, and memory that does not grow with
// the size of the file.
class ChunkedFile {
public:
    static constexpr std::size_t kChunkSize = std::size_t{1} << 20;

    // Throws WorkloadError naming the path and the system's reason if it cannot be opened.
    explicit ChunkedFile(const std::string& path);
    ~ChunkedFile();
    ChunkedFile(const ChunkedFile&) = delete;
    ChunkedFile& operator=(const ChunkedFile&) = delete;

    // The bytes read but not yet consumed.
    const unsigned char* data() const { return m_buf.get() + m_pos; }
    std::size_t size() const { return m_end - m_pos; }
    void consume(std::size_t n) { m_pos += n; }

    // Moves the unconsumed bytes to the front of the buffer and reads more of the file after
    // them. Returns false, adding nothing, at the end of the file (or if the buffer is full).
    bool refill();

    const std::string& path() const { return m_path; }

private:
    std::string m_path;
    int m_fd = -1;
    std::unique_ptr<unsigned char[]> m_buf;
    std::size_t m_pos = 0;
    std::size_t m_end = 0;
};

}  // namespace mmusim::workloads
