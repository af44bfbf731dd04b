// Synthetic address streams: a Source that computes its records from a few parameters.
#pragma once

#include <cstdint>
#include <memory>

#include "workloads/source.h"

namespace mmusim::workloads {

enum class Pattern : std::uint8_t { Sequential, Strided, Uniform, Zipf };

// "sequential", "strided", "uniform" or "zipf".
const char* pattern_name(Pattern pattern);

// Offsets are taken inside [base, base + length); an access never crosses the region's end.
struct GeneratorParams {
    Pattern pattern = Pattern::Sequential;
    std::uint64_t base = 0;          // VA of the data region
    std::uint64_t length = 0;        // bytes, > 0
    std::uint64_t count = 0;         // number of data accesses to emit
    std::uint64_t stride = 64;       // strided: bytes between accesses; sequential uses access_size
    std::uint32_t access_size = 8;   // bytes per access (1..4096)
    double store_fraction = 0.0;     // 0..1: probability that a data access is a store (seeded)
    double zipf_alpha = 1.0;         // zipf: skew > 0
    std::uint64_t zipf_item = 4096;  // zipf: item size in bytes (see make_generator)
    std::uint64_t code_base = 0;     // ifetch region; code_length 0 = no ifetch records
    std::uint64_t code_length = 0;   // if > 0: one 4-byte ifetch before each data access
    std::uint64_t seed = 1;
};

// The largest access a generator emits.
inline constexpr std::uint32_t kGeneratorMaxAccess = 4096;
// The most zipf items (length / zipf_item) a generator accepts.
inline constexpr std::uint64_t kGeneratorMaxZipfItems = std::uint64_t{1} << 32;

// Sequential: offsets 0, access_size, 2 * access_size, ..., back to 0 where the next access
//   would pass the end.
// Strided: offset i * stride modulo the region (its length rounded down to a multiple of
//   access_size), rounded down to a multiple of access_size.
// Uniform: a uniformly random multiple of access_size.
// Zipf: the region is cut into length / zipf_item items; the item of popularity rank k is
//   drawn with probability proportional to 1 / k^zipf_alpha, and the ranks are scattered over
//   the items by a seeded permutation so that hot items are not all at the start. The offset
//   inside the item is a uniformly random multiple of access_size that fits in the item.
// Each data access is a store with probability store_fraction, drawn from a stream of its own
// so that changing the fraction leaves the addresses alone. With code_length > 0 each data
// access is preceded by a 4-byte instruction fetch walking [code_base, code_base +
// code_length) in order and wrapping around.
// The records are fully determined by the params. Nonsense params (length 0, access_size 0 or
// above length or kGeneratorMaxAccess, a region past 2^64, ...) throw std::invalid_argument.
std::unique_ptr<Source> make_generator(const GeneratorParams& params);

}  // namespace mmusim::workloads
