#include "workloads/generator.h"

#include <cmath>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>

#include "workloads/permutation.h"
#include "models/common/rng.h"
#include "workloads/zipf.h"

namespace mmusim::workloads {

namespace {

constexpr std::uint32_t kIfetchSize = 4;

void require(bool ok, const char* what) {
    if (!ok) {
        throw std::invalid_argument(std::string("synthetic workload: ") + what);
    }
}

// Whether [base, base + length) lies below 2^64; length > 0.
bool fits_in_address_space(std::uint64_t base, std::uint64_t length) {
    return length - 1 <= std::numeric_limits<std::uint64_t>::max() - base;
}

void validate_zipf(const GeneratorParams& p) {
    require(p.zipf_alpha > 0.0 && std::isfinite(p.zipf_alpha),
            "zipf_alpha must be a finite number above 0");
    require(p.zipf_item >= p.access_size, "zipf_item must be at least access_size");
    require(p.zipf_item <= p.length, "zipf_item must not exceed length");
    require(p.length / p.zipf_item <= kGeneratorMaxZipfItems,
            "length / zipf_item must be at most 2^32 items");
}

void validate(const GeneratorParams& p) {
    require(p.pattern <= Pattern::Zipf, "unknown pattern");
    require(p.length > 0, "length must be above 0");
    require(fits_in_address_space(p.base, p.length), "base + length must not pass 2^64");
    require(p.access_size >= 1 && p.access_size <= kGeneratorMaxAccess,
            "access_size must be between 1 and 4096");
    require(p.access_size <= p.length, "access_size must not exceed length");
    require(p.store_fraction >= 0.0 && p.store_fraction <= 1.0,
            "store_fraction must be between 0 and 1");
    if (p.pattern == Pattern::Strided) {
        require(p.stride > 0, "stride must be above 0");
    }
    if (p.pattern == Pattern::Zipf) {
        validate_zipf(p);
    }
    if (p.code_length > 0) {
        require(p.code_length >= kIfetchSize, "code_length must be 0 or at least 4");
        require(fits_in_address_space(p.code_base, p.code_length),
                "code_base + code_length must not pass 2^64");
    }
}

class Generator final : public Source {
public:
    explicit Generator(const GeneratorParams& p);

    std::size_t next(Record* out, std::size_t max) override;
    const std::string& name() const override { return m_name; }

private:
    Record fetch();
    Record data();
    std::uint64_t next_offset();
    std::uint64_t zipf_offset();
    AccessKind next_kind();

    GeneratorParams m_p;
    std::string m_name;
    std::uint64_t m_usable;  // length rounded down to a multiple of access_size
    std::uint64_t m_step;    // strided: stride modulo m_usable
    std::uint64_t m_cursor = 0;
    Xoshiro256ss m_address_rng;
    Xoshiro256ss m_kind_rng;
    std::optional<ZipfSampler> m_zipf;
    std::optional<FeistelPermutation> m_items;
    std::uint64_t m_emitted = 0;  // data accesses
    std::uint64_t m_code_offset = 0;
    bool m_fetched = false;  // the fetch before the next data access is out
};

Generator::Generator(const GeneratorParams& p)
    : m_p(p),
      m_name(std::string("synthetic ") + pattern_name(p.pattern) + " stream (seed " +
             std::to_string(p.seed) + ")"),
      m_usable(p.length - p.length % p.access_size),
      m_step(p.stride % m_usable),
      m_address_rng(derived_seed(p.seed, 0)),
      m_kind_rng(derived_seed(p.seed, 1)) {
    if (p.pattern == Pattern::Zipf) {
        const std::uint64_t items = p.length / p.zipf_item;
        m_zipf.emplace(items, p.zipf_alpha);
        m_items.emplace(items, derived_seed(p.seed, 2));
    }
}

std::size_t Generator::next(Record* out, std::size_t max) {
    std::size_t n = 0;
    while (n < max && m_emitted < m_p.count) {
        if (m_p.code_length > 0 && !m_fetched) {
            out[n++] = fetch();
            m_fetched = true;
            continue;
        }
        out[n++] = data();
        m_fetched = false;
        ++m_emitted;
    }
    return n;
}

Record Generator::fetch() {
    const Record record{m_p.code_base + m_code_offset, kIfetchSize, AccessKind::Ifetch};
    m_code_offset += kIfetchSize;
    if (m_code_offset > m_p.code_length - kIfetchSize) {
        m_code_offset = 0;
    }
    return record;
}

Record Generator::data() {
    const std::uint64_t offset = next_offset();
    return Record{m_p.base + offset, m_p.access_size, next_kind()};
}

std::uint64_t Generator::next_offset() {
    const std::uint64_t size = m_p.access_size;
    switch (m_p.pattern) {
        case Pattern::Sequential: {
            const std::uint64_t offset = m_cursor;
            // m_cursor <= length - size, so the sum cannot overflow.
            const std::uint64_t following = m_cursor + size;
            m_cursor = following > m_p.length - size ? 0 : following;
            return offset;
        }
        case Pattern::Strided: {
            const std::uint64_t offset = m_cursor - m_cursor % size;
            // (m_cursor + m_step) mod m_usable, without overflowing near 2^64.
            m_cursor = m_cursor >= m_usable - m_step ? m_cursor - (m_usable - m_step)
                                                     : m_cursor + m_step;
            return offset;
        }
        case Pattern::Uniform: return uniform_below(m_address_rng, m_usable / size) * size;
        case Pattern::Zipf: return zipf_offset();
    }
    return 0;
}

std::uint64_t Generator::zipf_offset() {
    const std::uint64_t rank = m_zipf->sample(m_address_rng);
    const std::uint64_t item = (*m_items)(rank - 1);
    const std::uint64_t size = m_p.access_size;
    const std::uint64_t inside = uniform_below(m_address_rng, m_p.zipf_item / size) * size;
    return item * m_p.zipf_item + inside;
}

AccessKind Generator::next_kind() {
    if (m_p.store_fraction <= 0.0) {
        return AccessKind::Load;
    }
    if (m_p.store_fraction >= 1.0) {
        return AccessKind::Store;
    }
    return uniform01(m_kind_rng) < m_p.store_fraction ? AccessKind::Store : AccessKind::Load;
}

}  // namespace

const char* pattern_name(Pattern pattern) {
    switch (pattern) {
        case Pattern::Sequential: return "sequential";
        case Pattern::Strided: return "strided";
        case Pattern::Uniform: return "uniform";
        case Pattern::Zipf: return "zipf";
    }
    return "unknown";
}

std::unique_ptr<Source> make_generator(const GeneratorParams& params) {
    validate(params);
    return std::make_unique<Generator>(params);
}

}  // namespace mmusim::workloads
