// Zipf-distributed ranks over a large number of items, in constant memory.
#pragma once

#include <cstdint>

#include "models/common/rng.h"

namespace mmusim::workloads {

// Rank k in [1, n] with probability proportional to 1 / k^alpha, by rejection-inversion
// (W. Hörmann and G. Derflinger, "Rejection-inversion to generate variates from monotone
// discrete distributions", ACM TOMACS 6(3), 1996). Exact, O(1) memory and expected time for
// any n, where a table of cumulative weights would need 32 GiB for 2^32 items.
class ZipfSampler {
public:
    // n >= 1, alpha > 0 and finite; throws std::invalid_argument otherwise.
    ZipfSampler(std::uint64_t n, double alpha);

    std::uint64_t sample(Xoshiro256ss& rng) const;


private:
    double h(double x) const;
    double h_integral(double x) const;
    double h_integral_inverse(double x) const;

    std::uint64_t m_n;
    double m_alpha;
    double m_h_integral_x1;
    double m_h_integral_n;
    double m_s;
};

}  // namespace mmusim::workloads
