#include "workloads/chunked_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

#include "workloads/workload_error.h"

namespace mmusim::workloads {

namespace {

// std::system_category().message is the thread-safe spelling of strerror.
std::string reason(int error) { return std::system_category().message(error); }

}  // namespace

ChunkedFile::ChunkedFile(const std::string& path)
    : m_path(path), m_buf(std::make_unique_for_overwrite<unsigned char[]>(kChunkSize)) {
    m_fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (m_fd < 0) {
        throw WorkloadError("cannot open the trace " + path + ": " + reason(errno));
    }
}

ChunkedFile::~ChunkedFile() {
    if (m_fd >= 0) {
        ::close(m_fd);
    }
}

bool ChunkedFile::refill() {
    if (m_pos > 0) {
        std::memmove(m_buf.get(), m_buf.get() + m_pos, size());
        m_end -= m_pos;
        m_pos = 0;
    }
    if (m_end == kChunkSize) {
        return false;
    }
    for (;;) {
        const ssize_t got = ::read(m_fd, m_buf.get() + m_end, kChunkSize - m_end);
        if (got > 0) {
            m_end += static_cast<std::size_t>(got);
            return true;
        }
        if (got == 0) {
            return false;
        }
        if (errno != EINTR) {
            throw WorkloadError("cannot read the trace " + m_path + ": " + reason(errno));
        }
    }
}

}  // namespace mmusim::workloads
