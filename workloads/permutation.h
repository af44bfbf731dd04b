// A seeded bijection of [0, n) onto itself that needs no table.
#pragma once

#include <cstdint>

namespace mmusim::workloads {

// A balanced Feistel network over the smallest power-of-two domain with an even number of
// bits that holds n, restricted to [0, n) by cycle-walking: values that land outside are
// enciphered again until they fall inside. The domain is less than 4n, so the expected walk
// is under 4 rounds of the network. Every Feistel network is a bijection whatever its round
// function, and cycle-walking keeps that on the subset.
class FeistelPermutation {
public:
    // n >= 1; throws std::invalid_argument for 0.
    FeistelPermutation(std::uint64_t n, std::uint64_t seed);

    // The image of i, for i < n.
    std::uint64_t operator()(std::uint64_t i) const;


private:
    static constexpr int kRounds = 6;

    std::uint64_t encipher(std::uint64_t x) const;

    std::uint64_t m_n;
    int m_half_bits;
    std::uint64_t m_half_mask;
    std::uint64_t m_keys[kRounds];
};

}  // namespace mmusim::workloads
