#include "workloads/zipf.h"

#include <cmath>
#include <stdexcept>

namespace mmusim::workloads {

namespace {

// log1p(x) / x, continued smoothly to 1 at x = 0.
double log1p_over_x(double x) {
    if (std::fabs(x) > 1e-8) {
        return std::log1p(x) / x;
    }
    return 1.0 - x * (0.5 - x * (1.0 / 3.0 - 0.25 * x));
}

// expm1(x) / x, continued smoothly to 1 at x = 0.
double expm1_over_x(double x) {
    if (std::fabs(x) > 1e-8) {
        return std::expm1(x) / x;
    }
    return 1.0 + x * 0.5 * (1.0 + x * (1.0 / 3.0) * (1.0 + 0.25 * x));
}

}  // namespace

ZipfSampler::ZipfSampler(std::uint64_t n, double alpha) : m_n(n), m_alpha(alpha) {
    if (n == 0) {
        throw std::invalid_argument("zipf: the number of items must be at least 1");
    }
    if (!(alpha > 0.0) || !std::isfinite(alpha)) {
        throw std::invalid_argument("zipf: the exponent alpha must be a finite number above 0");
    }
    m_h_integral_x1 = h_integral(1.5) - 1.0;
    m_h_integral_n = h_integral(static_cast<double>(n) + 0.5);
    m_s = 2.0 - h_integral_inverse(h_integral(2.5) - h(2.0));
}

std::uint64_t ZipfSampler::sample(Xoshiro256ss& rng) const {
    const double n = static_cast<double>(m_n);
    for (;;) {
        // u is uniform in (h_integral_x1, h_integral_n]; x = H^-1(u) is then drawn from the
        // continuous hat function, and k, its nearest integer, is accepted with the ratio of
        // the discrete weight to the hat over [k - 1/2, k + 1/2].
        const double u = m_h_integral_n + uniform01(rng) * (m_h_integral_x1 - m_h_integral_n);
        const double x = h_integral_inverse(u);
        double k = std::floor(x + 0.5);
        if (k < 1.0) {
            k = 1.0;
        } else if (k > n) {
            k = n;
        }
        if (k - x <= m_s || u >= h_integral(k + 0.5) - h(k)) {
            const auto rank = static_cast<std::uint64_t>(k);
            return rank < m_n ? rank : m_n;  // n above 2^53 rounds as a double
        }
    }
}

// The weight function, 1 / x^alpha.
double ZipfSampler::h(double x) const { return std::exp(-m_alpha * std::log(x)); }

// An antiderivative of h: (x^(1-alpha) - 1) / (1 - alpha), and log x at alpha = 1.
double ZipfSampler::h_integral(double x) const {
    const double log_x = std::log(x);
    return expm1_over_x((1.0 - m_alpha) * log_x) * log_x;
}

double ZipfSampler::h_integral_inverse(double x) const {
    double t = x * (1.0 - m_alpha);
    if (t < -1.0) {
        t = -1.0;  // rounding only: the true value is above -1
    }
    return std::exp(log1p_over_x(t) * x);
}

}  // namespace mmusim::workloads
