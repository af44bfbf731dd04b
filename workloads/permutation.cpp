#include "workloads/permutation.h"

#include <bit>
#include <stdexcept>

#include "models/common/rng.h"

namespace mmusim::workloads {

FeistelPermutation::FeistelPermutation(std::uint64_t n, std::uint64_t seed) : m_n(n) {
    if (n == 0) {
        throw std::invalid_argument("permutation: the domain must hold at least one value");
    }
    // Bits to hold n - 1, rounded up to an even count (at least 2) so both halves match.
    const int bits = n == 1 ? 0 : static_cast<int>(std::bit_width(n - 1));
    m_half_bits = bits <= 2 ? 1 : (bits + 1) / 2;
    m_half_mask = (std::uint64_t{1} << m_half_bits) - 1;
    std::uint64_t state = seed;
    for (std::uint64_t& key : m_keys) {
        key = splitmix64_next(state);
    }
}

std::uint64_t FeistelPermutation::operator()(std::uint64_t i) const {
    std::uint64_t x = i;
    do {
        x = encipher(x);
    } while (x >= m_n);
    return x;
}

std::uint64_t FeistelPermutation::encipher(std::uint64_t x) const {
    std::uint64_t left = x >> m_half_bits;
    std::uint64_t right = x & m_half_mask;
    for (const std::uint64_t key : m_keys) {
        const std::uint64_t mixed = left ^ (splitmix64_mix(right ^ key) & m_half_mask);
        left = right;
        right = mixed;
    }
    return (left << m_half_bits) | right;
}

}  // namespace mmusim::workloads
