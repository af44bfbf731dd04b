#include "workloads/compression.h"

#include <cstring>

namespace mmusim::workloads {

namespace {

bool starts_with(const unsigned char* data, std::size_t size, const unsigned char* magic,
                 std::size_t magic_size) {
    return size >= magic_size && std::memcmp(data, magic, magic_size) == 0;
}

// bzip2 is only recognised to say that it is not supported. "BZh" alone could begin a text
// file, so the block-size digit and the magic of the first block (or of the end of an empty
// stream) must follow too.
bool is_bzip2(const unsigned char* data, std::size_t size) {
    static const unsigned char kBlock[] = {0x31, 0x41, 0x59, 0x26, 0x53, 0x59};
    static const unsigned char kEmpty[] = {0x17, 0x72, 0x45, 0x38, 0x50, 0x90};
    if (size < 10 || data[0] != 'B' || data[1] != 'Z' || data[2] != 'h' || data[3] < '1' ||
        data[3] > '9') {
        return false;
    }
    return std::memcmp(data + 4, kBlock, 6) == 0 || std::memcmp(data + 4, kEmpty, 6) == 0;
}

}  // namespace

const char* compression_name(Compression c) {
    switch (c) {
        case Compression::None: return "plain";
        case Compression::Gzip: return "gzip";
        case Compression::Xz: return "xz";
        case Compression::Zstd: return "zstd";
        case Compression::Bzip2: return "bzip2";
    }
    return "unknown";
}

Compression detect_compression(const unsigned char* data, std::size_t size) {
    static const unsigned char kGzip[] = {0x1f, 0x8b};
    static const unsigned char kXz[] = {0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00};
    static const unsigned char kZstd[] = {0x28, 0xb5, 0x2f, 0xfd};
    if (starts_with(data, size, kGzip, sizeof kGzip)) {
        return Compression::Gzip;
    }
    if (starts_with(data, size, kXz, sizeof kXz)) {
        return Compression::Xz;
    }
    if (starts_with(data, size, kZstd, sizeof kZstd)) {
        return Compression::Zstd;
    }
    if (is_bzip2(data, size)) {
        return Compression::Bzip2;
    }
    return Compression::None;
}

}  // namespace mmusim::workloads
