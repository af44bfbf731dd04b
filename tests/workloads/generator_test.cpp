// Synthetic address streams and the random numbers under them.
#include "workloads/generator.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <stdexcept>
#include <vector>

#include "workloads/permutation.h"
#include "models/common/rng.h"
#include "workloads/zipf.h"

namespace mmusim::workloads {
namespace {

std::vector<Record> generate(const GeneratorParams& params, std::size_t batch = 1000) {
    auto source = make_generator(params);
    std::vector<Record> records;
    std::vector<Record> buffer(batch);
    while (const std::size_t n = source->next(buffer.data(), batch)) {
        records.insert(records.end(), buffer.begin(), buffer.begin() + n);
    }
    return records;
}

std::vector<std::uint64_t> addresses(const std::vector<Record>& records) {
    std::vector<std::uint64_t> vas;
    for (const Record& r : records) {
        vas.push_back(r.va);
    }
    return vas;
}

bool same(const std::vector<Record>& a, const std::vector<Record>& b) {
    return a.size() == b.size() &&
           std::equal(a.begin(), a.end(), b.begin(), [](const Record& x, const Record& y) {
               return x.va == y.va && x.size == y.size && x.kind == y.kind;
           });
}

GeneratorParams params_for(Pattern pattern) {
    GeneratorParams p;
    p.pattern = pattern;
    p.base = 0x7f0000000000;
    p.length = 1 << 24;
    p.count = 20000;
    p.stride = 4160;
    p.access_size = 8;
    p.store_fraction = 0.25;
    p.zipf_item = 4096;
    p.seed = 42;
    return p;
}

const Pattern kPatterns[] = {Pattern::Sequential, Pattern::Strided, Pattern::Uniform,
                             Pattern::Zipf};

TEST(GeneratorTest, SequentialWalksTheRegionAndWraps) {
    GeneratorParams p;
    p.base = 0x10000;
    p.length = 64;
    p.count = 10;
    p.access_size = 8;
    const std::vector<std::uint64_t> want = {0x10000, 0x10008, 0x10010, 0x10018, 0x10020,
                                             0x10028, 0x10030, 0x10038, 0x10000, 0x10008};
    const auto records = generate(p);
    EXPECT_EQ(addresses(records), want);
    for (const Record& r : records) {
        EXPECT_EQ(r.size, 8u);
        EXPECT_EQ(r.kind, AccessKind::Load);
    }
    // A region that is not a multiple of the access size wraps before its end.
    p.length = 20;
    p.count = 4;
    EXPECT_EQ(addresses(generate(p)), (std::vector<std::uint64_t>{0x10000, 0x10008, 0x10000,
                                                                  0x10008}));
}

TEST(GeneratorTest, StridedStepsByTheStrideModuloTheRegion) {
    GeneratorParams p;
    p.pattern = Pattern::Strided;
    p.base = 0x200000;
    p.length = 4096;
    p.stride = 1024;
    p.count = 6;
    EXPECT_EQ(addresses(generate(p)), (std::vector<std::uint64_t>{0x200000, 0x200400, 0x200800,
                                                                  0x200c00, 0x200000, 0x200400}));
    // A stride that is not a multiple of the access size is rounded down to one, and the
    // region to a multiple of it (96 of 100 bytes).
    p.length = 100;
    p.stride = 12;
    p.count = 10;
    EXPECT_EQ(addresses(generate(p)),
              (std::vector<std::uint64_t>{0x200000, 0x200008, 0x200018, 0x200020, 0x200030,
                                          0x200038, 0x200048, 0x200050, 0x200000, 0x200008}));
}

TEST(GeneratorTest, InstructionFetchesPrecedeEachDataAccess) {
    GeneratorParams p;
    p.base = 0x10000;
    p.length = 4096;
    p.count = 4;
    p.code_base = 0x400000;
    p.code_length = 12;
    const auto records = generate(p, 3);
    ASSERT_EQ(records.size(), 8u);
    const std::uint64_t fetches[] = {0x400000, 0x400004, 0x400008, 0x400000};
    for (std::size_t i = 0; i < 4; ++i) {
        EXPECT_EQ(records[2 * i].kind, AccessKind::Ifetch);
        EXPECT_EQ(records[2 * i].va, fetches[i]);
        EXPECT_EQ(records[2 * i].size, 4u);
        EXPECT_EQ(records[2 * i + 1].kind, AccessKind::Load);
        EXPECT_EQ(records[2 * i + 1].va, 0x10000 + 8 * i);
    }
}

TEST(GeneratorTest, SameSeedSameRecordsOtherSeedOtherRecords) {
    for (const Pattern pattern : kPatterns) {
        GeneratorParams p = params_for(pattern);
        const auto first = generate(p);
        EXPECT_TRUE(same(first, generate(p, 7))) << pattern_name(pattern);
        p.seed = 43;
        const auto other = generate(p);
        EXPECT_FALSE(same(first, other)) << pattern_name(pattern);
        if (pattern == Pattern::Uniform || pattern == Pattern::Zipf) {
            EXPECT_NE(addresses(first), addresses(other)) << pattern_name(pattern);
        }
    }
}

// Pins the streams so that a change to the generators or the random numbers, which would
// silently change every experiment's results, is seen.
TEST(GeneratorTest, StreamsAreStableAcrossVersions) {
    GeneratorParams p = params_for(Pattern::Uniform);
    p.count = 3;
    const auto uniform = generate(p);
    p.pattern = Pattern::Zipf;
    const auto zipf = generate(p);
    const std::vector<std::uint64_t> uniform_want = {0x7f00003bdfd8, 0x7f000013a938, 0x7f0000010050};
    const std::vector<std::uint64_t> zipf_want = {0x7f00001d5938, 0x7f0000786b70, 0x7f0000229448};
    EXPECT_EQ(addresses(uniform), uniform_want);
    EXPECT_EQ(addresses(zipf), zipf_want);
}

TEST(GeneratorTest, AccessesStayInsideTheRegionAndAligned) {
    for (const Pattern pattern : kPatterns) {
        GeneratorParams p = params_for(pattern);
        p.length = 3 * 4096 + 100;  // not a multiple of anything
        p.zipf_item = 64;
        p.access_size = 16;
        p.count = 100000;
        for (const Record& r : generate(p)) {
            ASSERT_GE(r.va, p.base) << pattern_name(pattern);
            ASSERT_LE(r.va + r.size, p.base + p.length) << pattern_name(pattern);
            ASSERT_EQ((r.va - p.base) % 16, 0u) << pattern_name(pattern);
            ASSERT_EQ(r.size, 16u);
        }
    }
}

TEST(GeneratorTest, RegionsEndingAtTheTopOfTheAddressSpaceWork) {
    for (const Pattern pattern : kPatterns) {
        GeneratorParams p = params_for(pattern);
        p.length = std::uint64_t{1} << 40;
        p.base = 0 - p.length;
        p.stride = (std::uint64_t{1} << 39) + 4096;
        p.count = 1000;
        for (const Record& r : generate(p)) {
            ASSERT_GE(r.va, p.base) << pattern_name(pattern);
            ASSERT_LE(r.va - p.base, p.length - r.size) << pattern_name(pattern);
        }
    }
}

TEST(GeneratorTest, StoreFractionIsHonoured) {
    for (const double fraction : {0.0, 0.1, 0.5, 0.9, 1.0}) {
        GeneratorParams p = params_for(Pattern::Uniform);
        p.count = 1000000;
        p.store_fraction = fraction;
        std::size_t stores = 0;
        for (const Record& r : generate(p, 65536)) {
            stores += r.kind == AccessKind::Store ? 1 : 0;
        }
        EXPECT_NEAR(static_cast<double>(stores) / 1e6, fraction, 0.01) << fraction;
    }
}

TEST(GeneratorTest, StoreFractionLeavesTheAddressesAlone) {
    GeneratorParams p = params_for(Pattern::Zipf);
    p.store_fraction = 0.0;
    const auto loads = generate(p);
    p.store_fraction = 0.7;
    EXPECT_EQ(addresses(loads), addresses(generate(p)));
}

TEST(GeneratorTest, UniformCoversTheRegionEvenly) {
    GeneratorParams p = params_for(Pattern::Uniform);
    p.length = 64 * 16;
    p.access_size = 64;
    p.count = 160000;
    std::map<std::uint64_t, int> hits;
    for (const Record& r : generate(p)) {
        ++hits[r.va - p.base];
    }
    ASSERT_EQ(hits.size(), 16u);
    for (const auto& [offset, count] : hits) {
        EXPECT_NEAR(count, 10000, 500) << offset;
    }
}

TEST(GeneratorTest, ZipfHotItemsAreScatteredAndSkewed) {
    GeneratorParams p = params_for(Pattern::Zipf);
    p.length = 1000 * 4096;
    p.count = 200000;
    p.zipf_alpha = 1.0;
    std::map<std::uint64_t, int> hits;
    for (const Record& r : generate(p)) {
        ++hits[(r.va - p.base) / 4096];
    }
    std::vector<std::pair<int, std::uint64_t>> by_count;
    for (const auto& [item, count] : hits) {
        by_count.emplace_back(count, item);
    }
    std::sort(by_count.rbegin(), by_count.rend());
    // The hottest item gets about 1 / H(1000) = 13.4% of the accesses.
    EXPECT_NEAR(by_count[0].first / 200000.0, 1.0 / 7.4855, 0.005);
    std::size_t hot_in_first_tenth = 0;
    for (std::size_t i = 0; i < 10; ++i) {
        hot_in_first_tenth += by_count[i].second < 100 ? 1 : 0;
    }
    EXPECT_LT(hot_in_first_tenth, 10u);
}

TEST(GeneratorTest, NonsenseParamsAreRefused) {
    const auto refused = [](auto change) {
        GeneratorParams p = params_for(Pattern::Zipf);
        change(p);
        EXPECT_THROW(make_generator(p), std::invalid_argument);
    };
    refused([](GeneratorParams& p) { p.length = 0; });
    refused([](GeneratorParams& p) { p.access_size = 0; });
    refused([](GeneratorParams& p) { p.access_size = 8192; });
    refused([](GeneratorParams& p) { p.length = 4; });
    refused([](GeneratorParams& p) { p.base = ~std::uint64_t{0} - 100; });
    refused([](GeneratorParams& p) { p.store_fraction = 1.5; });
    refused([](GeneratorParams& p) { p.store_fraction = -0.1; });
    refused([](GeneratorParams& p) { p.store_fraction = std::nan(""); });
    refused([](GeneratorParams& p) { p.zipf_alpha = 0.0; });
    refused([](GeneratorParams& p) { p.zipf_alpha = std::numeric_limits<double>::infinity(); });
    refused([](GeneratorParams& p) { p.zipf_item = 0; });
    refused([](GeneratorParams& p) { p.zipf_item = 4; });
    refused([](GeneratorParams& p) { p.zipf_item = p.length * 2; });
    refused([](GeneratorParams& p) {
        p.base = 0;
        p.length = std::uint64_t{1} << 44;
        p.zipf_item = 8;
    });
    refused([](GeneratorParams& p) { p.code_length = 2; });
    refused([](GeneratorParams& p) {
        p.code_base = ~std::uint64_t{0};
        p.code_length = 8;
    });
    refused([](GeneratorParams& p) { p.pattern = static_cast<Pattern>(9); });
    refused([](GeneratorParams& p) {
        p.pattern = Pattern::Strided;
        p.stride = 0;
    });
    GeneratorParams empty = params_for(Pattern::Sequential);
    empty.count = 0;
    EXPECT_TRUE(generate(empty).empty());
}

TEST(GeneratorRngTest, MatchesTheReferenceOutputs) {
    // splitmix64 from state 0, and xoshiro256** from {1, 2, 3, 4}, as published.
    std::uint64_t state = 0;
    EXPECT_EQ(splitmix64_next(state), 0xe220a8397b1dcdafULL);
    const std::uint64_t words[4] = {1, 2, 3, 4};
    Xoshiro256ss rng(words);
    EXPECT_EQ(rng.next(), 11520u);
    EXPECT_EQ(rng.next(), 0u);
    EXPECT_EQ(rng.next(), 1509978240u);
    EXPECT_EQ(rng.next(), 1215971899390074240u);
}

TEST(GeneratorRngTest, UniformBelowStaysBelowAndHitsEveryValue) {
    Xoshiro256ss rng(7);
    std::vector<int> hits(7);
    for (int i = 0; i < 70000; ++i) {
        const std::uint64_t v = uniform_below(rng, 7);
        ASSERT_LT(v, 7u);
        ++hits[v];
    }
    for (const int count : hits) {
        EXPECT_NEAR(count, 10000, 500);
    }
    EXPECT_EQ(uniform_below(rng, 1), 0u);
    for (int i = 0; i < 1000; ++i) {
        const double u = uniform01(rng);
        ASSERT_GE(u, 0.0);
        ASSERT_LT(u, 1.0);
    }
}

TEST(GeneratorZipfTest, FrequenciesFallWithRankAsThePowerLawSays) {
    for (const double alpha : {0.5, 1.0, 1.5}) {
        constexpr std::uint64_t kItems = 100;
        constexpr int kDraws = 1000000;
        ZipfSampler zipf(kItems, alpha);
        Xoshiro256ss rng(3);
        std::vector<int> counts(kItems + 1);
        for (int i = 0; i < kDraws; ++i) {
            const std::uint64_t rank = zipf.sample(rng);
            ASSERT_GE(rank, 1u);
            ASSERT_LE(rank, kItems);
            ++counts[rank];
        }
        double norm = 0;
        for (std::uint64_t k = 1; k <= kItems; ++k) {
            norm += std::pow(static_cast<double>(k), -alpha);
        }
        for (std::uint64_t k = 1; k <= 10; ++k) {
            const double want = kDraws * std::pow(static_cast<double>(k), -alpha) / norm;
            EXPECT_NEAR(counts[k], want, 5 * std::sqrt(want)) << "alpha " << alpha << " rank " << k;
            if (k > 1) {
                EXPECT_LT(counts[k], counts[k - 1]) << "alpha " << alpha << " rank " << k;
            }
        }
    }
}

TEST(GeneratorZipfTest, HandlesTwoToTheThirtyTwoItems) {
    const std::uint64_t items = std::uint64_t{1} << 32;
    const double alpha = 1.2;
    ZipfSampler zipf(items, alpha);
    Xoshiro256ss rng(5);
    constexpr int kDraws = 200000;
    int first = 0;
    std::uint64_t largest = 0;
    for (int i = 0; i < kDraws; ++i) {
        const std::uint64_t rank = zipf.sample(rng);
        ASSERT_GE(rank, 1u);
        ASSERT_LE(rank, items);
        first += rank == 1 ? 1 : 0;
        largest = std::max(largest, rank);
    }
    // H(n, 1.2) by a direct sum for small k and the Euler-Maclaurin tail for the rest.
    double norm = 0;
    const double m = 1e6;
    for (double k = 1; k < m; ++k) {
        norm += std::pow(k, -alpha);
    }
    const double n = static_cast<double>(items);
    norm += (std::pow(m, 1 - alpha) - std::pow(n, 1 - alpha)) / (alpha - 1) +
            0.5 * (std::pow(m, -alpha) + std::pow(n, -alpha));
    EXPECT_NEAR(first / static_cast<double>(kDraws), 1 / norm, 0.005);
    EXPECT_GT(largest, std::uint64_t{1} << 20);  // the tail is reached
}

TEST(GeneratorPermutationTest, IsABijectionOnSmallDomains) {
    for (std::uint64_t n = 1; n <= 300; ++n) {
        FeistelPermutation perm(n, n * 31);
        std::set<std::uint64_t> seen;
        for (std::uint64_t i = 0; i < n; ++i) {
            const std::uint64_t image = perm(i);
            ASSERT_LT(image, n);
            seen.insert(image);
        }
        ASSERT_EQ(seen.size(), n) << n;
    }
    for (const std::uint64_t n : {1000u, 4096u, 4097u, 65535u}) {
        FeistelPermutation perm(n, 9);
        std::vector<bool> seen(n);
        for (std::uint64_t i = 0; i < n; ++i) {
            const std::uint64_t image = perm(i);
            ASSERT_LT(image, n);
            ASSERT_FALSE(seen[image]) << n;
            seen[image] = true;
        }
    }
}

TEST(GeneratorPermutationTest, DependsOnTheSeedAndScatters) {
    FeistelPermutation a(1000, 1);
    FeistelPermutation b(1000, 2);
    int same_image = 0;
    int fixed = 0;
    for (std::uint64_t i = 0; i < 1000; ++i) {
        same_image += a(i) == b(i) ? 1 : 0;
        fixed += a(i) == i ? 1 : 0;
    }
    EXPECT_LT(same_image, 20);
    EXPECT_LT(fixed, 20);
    FeistelPermutation big(std::uint64_t{1} << 32, 1);
    EXPECT_LT(big((std::uint64_t{1} << 32) - 1), std::uint64_t{1} << 32);
}

}  // namespace
}  // namespace mmusim::workloads
