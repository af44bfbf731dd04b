// Which compression a trace file uses, told from its first bytes.
#pragma once

#include <cstddef>
#include <cstdint>

namespace mmusim::workloads {

enum class Compression : std::uint8_t { None, Gzip, Xz, Zstd, Bzip2 };

// The format's usual name ("gzip", "xz", ...; "plain" for None), for messages.
const char* compression_name(Compression c);

// The magic bytes at the start of a file decide, never its name: traces get renamed and piped
// through tools that keep the old suffix. `size` may be short; short data is plain.
Compression detect_compression(const unsigned char* data, std::size_t size);

// How many leading bytes detect_compression needs to see to be sure.
inline constexpr std::size_t kCompressionMagicSize = 10;

}  // namespace mmusim::workloads
