// Size names used in configs and statistics: 4K, 16K, 64K, 2M, 32M, 512M, 1G, 16G.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mmusim::arch {

// Parses a size name with a K, M, G or T suffix (powers of 1024), or a plain number of bytes.
std::optional<std::uint64_t> parse_size(std::string_view text);
// Parses an address written as "0x" (or "0X") and 1 to 16 hex digits, nothing else.
std::optional<std::uint64_t> parse_address(std::string_view text);
// The shortest name for a byte count: 4096 -> "4K", 2097152 -> "2M"; other values as bytes.
std::string size_name(std::uint64_t bytes);
inline bool is_pow2(std::uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }
unsigned log2_exact(std::uint64_t pow2);

}  // namespace mmusim::arch
