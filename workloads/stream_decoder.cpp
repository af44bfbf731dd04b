#include "workloads/stream_decoder.h"

#define ZLIB_CONST
#include <lzma.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <new>
#include <utility>

namespace mmusim::workloads {

std::size_t StreamDecoder::decode(char* out, std::size_t n) {
    std::size_t total = 0;
    while (total < n && !m_finished && !m_problem) {
        if (m_in.size() == 0 && !m_eof) {
            m_eof = !m_in.refill();
        }
        const std::size_t input_before = m_in.size();
        std::size_t produced = 0;
        if (step(out + total, n - total, m_eof, produced) == Status::Finished) {
            m_finished = true;
        }
        total += produced;
        if (produced > 0 || m_in.size() != input_before || m_finished || m_problem) {
            continue;
        }
        // No progress: the library wants more input than the buffer holds.
        if (m_eof) {
            m_problem = DecodeProblem{DecodeProblem::Kind::Truncated, {}};
        } else {
            m_eof = !m_in.refill();
        }
    }
    return total;
}

void StreamDecoder::corrupt(std::string detail) {
    m_problem = DecodeProblem{DecodeProblem::Kind::Corrupt, std::move(detail)};
}

namespace {

// The libraries count in 32-bit or size_t units; a call never offers more than this.
constexpr std::size_t kMaxStep = std::size_t{1} << 30;

class PlainDecoder final : public StreamDecoder {
public:
    explicit PlainDecoder(ChunkedFile& in) : StreamDecoder(in) {}

protected:
    Status step(char* out, std::size_t n, bool at_eof, std::size_t& produced) override {
        const std::size_t count = std::min(n, m_in.size());
        std::memcpy(out, m_in.data(), count);
        m_in.consume(count);
        produced = count;
        return count == 0 && at_eof ? Status::Finished : Status::Running;
    }
};

// gzip files may hold several members one after the other (`cat a.gz b.gz`, pigz, bgzip);
// the text is their concatenation. Zero bytes after a member are padding some tools leave.
class GzipDecoder final : public StreamDecoder {
public:
    explicit GzipDecoder(ChunkedFile& in) : StreamDecoder(in) {
        // 15 + 32: the largest window, with the gzip header recognised and checked.
        if (inflateInit2(&m_z, 15 + 32) != Z_OK) {
            throw std::bad_alloc();
        }
    }
    ~GzipDecoder() override { inflateEnd(&m_z); }

protected:
    Status step(char* out, std::size_t n, bool at_eof, std::size_t& produced) override {
        if (m_between_members) {
            return start_next_member(at_eof);
        }
        m_z.next_in = m_in.data();
        m_z.avail_in = static_cast<uInt>(std::min(m_in.size(), kMaxStep));
        m_z.next_out = reinterpret_cast<Bytef*>(out);
        m_z.avail_out = static_cast<uInt>(std::min(n, kMaxStep));
        const uInt offered_in = m_z.avail_in;
        const uInt offered_out = m_z.avail_out;
        const int rc = inflate(&m_z, Z_NO_FLUSH);
        m_in.consume(offered_in - m_z.avail_in);
        produced = offered_out - m_z.avail_out;
        if (rc == Z_STREAM_END) {
            m_between_members = true;
        } else if (rc == Z_MEM_ERROR) {
            throw std::bad_alloc();
        } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
            corrupt(m_z.msg != nullptr ? m_z.msg : "inflate failed");
        }
        return Status::Running;
    }

private:
    // After a member: the end of the file, zero padding, or the magic of another member.
    Status start_next_member(bool at_eof) {
        std::size_t zeros = 0;
        while (zeros < m_in.size() && m_in.data()[zeros] == 0) {
            ++zeros;
        }
        m_in.consume(zeros);
        if (m_in.size() == 0 && at_eof) {
            return Status::Finished;
        }
        if (m_in.size() < 2) {
            if (at_eof) {
                corrupt("a stray byte follows the last gzip member");
            }
            return Status::Running;  // zeros consumed, or more input is needed
        }
        if (m_in.data()[0] != 0x1f || m_in.data()[1] != 0x8b) {
            corrupt("data that is not gzip follows the end of a gzip member");
            return Status::Running;
        }
        inflateReset(&m_z);
        m_between_members = false;
        return Status::Running;
    }

    z_stream m_z{};
    bool m_between_members = false;
};

class XzDecoder final : public StreamDecoder {
public:
    explicit XzDecoder(ChunkedFile& in) : StreamDecoder(in) {
        // LZMA_CONCATENATED: several .xz streams in one file decode as one text, like xz -d.
        if (lzma_stream_decoder(&m_s, UINT64_MAX, LZMA_CONCATENATED) != LZMA_OK) {
            throw std::bad_alloc();
        }
    }
    ~XzDecoder() override { lzma_end(&m_s); }

protected:
    Status step(char* out, std::size_t n, bool at_eof, std::size_t& produced) override {
        m_s.next_in = m_in.data();
        m_s.avail_in = m_in.size();
        m_s.next_out = reinterpret_cast<std::uint8_t*>(out);
        m_s.avail_out = n;
        const lzma_ret rc = lzma_code(&m_s, at_eof ? LZMA_FINISH : LZMA_RUN);
        m_in.consume(m_in.size() - m_s.avail_in);
        produced = n - m_s.avail_out;
        switch (rc) {
            case LZMA_STREAM_END: return Status::Finished;
            case LZMA_OK:
            case LZMA_BUF_ERROR: return Status::Running;  // no progress; judged by the caller
            case LZMA_MEM_ERROR: throw std::bad_alloc();
            case LZMA_FORMAT_ERROR: corrupt("the xz header is not valid"); break;
            case LZMA_OPTIONS_ERROR: corrupt("the xz stream uses unsupported options"); break;
            case LZMA_DATA_ERROR: corrupt("the compressed data is corrupt"); break;
            default: corrupt("liblzma error " + std::to_string(static_cast<int>(rc))); break;
        }
        return Status::Running;
    }

private:
    lzma_stream m_s = LZMA_STREAM_INIT;
};

// zstd decodes concatenated frames (and skips skippable ones) by itself.
class ZstdDecoder final : public StreamDecoder {
public:
    explicit ZstdDecoder(ChunkedFile& in) : StreamDecoder(in), m_d(ZSTD_createDStream()) {
        if (m_d == nullptr || ZSTD_isError(ZSTD_initDStream(m_d))) {
            ZSTD_freeDStream(m_d);
            throw std::bad_alloc();
        }
    }
    ~ZstdDecoder() override { ZSTD_freeDStream(m_d); }

protected:
    Status step(char* out, std::size_t n, bool at_eof, std::size_t& produced) override {
        ZSTD_inBuffer in{m_in.data(), m_in.size(), 0};
        ZSTD_outBuffer ob{out, n, 0};
        const std::size_t rc = ZSTD_decompressStream(m_d, &ob, &in);
        m_in.consume(in.pos);
        produced = ob.pos;
        if (ZSTD_isError(rc)) {
            corrupt(ZSTD_getErrorName(rc));
            return Status::Running;
        }
        // 0 means a frame is complete and flushed: the data may end here.
        const bool idle = in.pos == 0 && ob.pos == 0;
        if (idle) {
            // A call without input still reports the next frame's header size: keep the
            // hint of the last call that did something.
            return at_eof && m_last_hint == 0 ? Status::Finished : Status::Running;
        }
        m_last_hint = rc;
        return Status::Running;
    }

private:
    ZSTD_DStream* m_d;
    std::size_t m_last_hint = 1;  // no frame has been completed yet
};

}  // namespace

std::unique_ptr<StreamDecoder> make_stream_decoder(Compression compression, ChunkedFile& in) {
    switch (compression) {
        case Compression::Gzip: return std::make_unique<GzipDecoder>(in);
        case Compression::Xz: return std::make_unique<XzDecoder>(in);
        case Compression::Zstd: return std::make_unique<ZstdDecoder>(in);
        default: return std::make_unique<PlainDecoder>(in);
    }
}

}  // namespace mmusim::workloads
