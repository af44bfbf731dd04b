// The project's own pseudo-random numbers. Neither a hardware entropy source nor the std::
// distributions are used: entropy is unseeded and the distributions differ between library
// versions, while runs must be reproducible from a seed everywhere.
#pragma once

#include <cstdint>

namespace mmusim {

// splitmix64 (Steele, Lea, Flood): turns any seed, even 0, into well-mixed words.
inline std::uint64_t splitmix64_mix(std::uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

inline std::uint64_t splitmix64_next(std::uint64_t& state) {
    state += 0x9e3779b97f4a7c15ULL;
    return splitmix64_mix(state);
}

// xoshiro256** (Blackman, Vigna), seeded through splitmix64 as its authors advise.
class Xoshiro256ss {
public:
    explicit Xoshiro256ss(std::uint64_t seed) {
        std::uint64_t state = seed;
        for (std::uint64_t& word : m_s) {
            word = splitmix64_next(state);
        }
    }

    // A given state, not all zero: for checking against the published reference outputs.
    explicit Xoshiro256ss(const std::uint64_t (&state)[4])
        : m_s{state[0], state[1], state[2], state[3]} {}

    std::uint64_t next() {
        const std::uint64_t result = rotl(m_s[1] * 5, 7) * 9;
        const std::uint64_t t = m_s[1] << 17;
        m_s[2] ^= m_s[0];
        m_s[3] ^= m_s[1];
        m_s[1] ^= m_s[2];
        m_s[0] ^= m_s[3];
        m_s[2] ^= t;
        m_s[3] = rotl(m_s[3], 45);
        return result;
    }

private:
    static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

    std::uint64_t m_s[4];
};

// Uniform in [0, n), n > 0, exactly: draws in the last incomplete run of n values are
// rejected so that every result is equally likely.
inline std::uint64_t uniform_below(Xoshiro256ss& rng, std::uint64_t n) {
    const std::uint64_t threshold = (0 - n) % n;  // 2^64 mod n
    for (;;) {
        const std::uint64_t r = rng.next();
        if (r >= threshold) {
            return r % n;
        }
    }
}

// A random word as a number in [0, 1), on the 2^53 doubles spaced 2^-53 apart.
inline double unit_interval(std::uint64_t word) { return static_cast<double>(word >> 11) * 0x1.0p-53; }

// Uniform in [0, 1).
inline double uniform01(Xoshiro256ss& rng) { return unit_interval(rng.next()); }

// Independent seeds derived from one seed: the `index`-th output of splitmix64 from it.
inline std::uint64_t derived_seed(std::uint64_t seed, int index) {
    std::uint64_t state = seed;
    std::uint64_t value = 0;
    for (int i = 0; i <= index; ++i) value = splitmix64_next(state);
    return value;
}

}  // namespace mmusim
