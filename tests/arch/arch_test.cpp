// Architecture facts: granule geometry (spec/kernel.md §1), size names, descriptor helpers,
// and the TLBI range encoding (§3.2).
#include <gtest/gtest.h>

#include <vector>

#include "models/arch/descriptor.h"
#include "models/arch/granule.h"
#include "models/arch/sizes.h"
#include "models/arch/tlbi.h"

namespace mmusim::arch {
namespace {

TEST(ArchGeometry, MatchesTheKernelConstants) {
    const Geometry& g4 = geometry(Granule::K4);
    EXPECT_EQ(g4.page_size(), 4096u);
    EXPECT_EQ(g4.ptrs_per_table(), 512u);
    EXPECT_EQ(g4.cont_ptes(), 16u);
    EXPECT_EQ(g4.cont_pte_size(), 64u << 10);
    EXPECT_EQ(g4.pmd_size(), 2u << 20);
    EXPECT_EQ(g4.cont_pmd_size(), 32u << 20);
    EXPECT_EQ(g4.level_size(1), 1u << 30);
    EXPECT_EQ(g4.start_level, 0u);
    const Geometry& g16 = geometry(Granule::K16);
    EXPECT_EQ(g16.ptrs_per_table(), 2048u);
    EXPECT_EQ(g16.cont_ptes(), 128u);
    EXPECT_EQ(g16.cont_pte_size(), 2u << 20);
    EXPECT_EQ(g16.pmd_size(), 32u << 20);
    EXPECT_EQ(g16.cont_pmd_size(), 1u << 30);
    EXPECT_EQ(g16.start_table_entries(), 2u);
    const Geometry& g64 = geometry(Granule::K64);
    EXPECT_EQ(g64.ptrs_per_table(), 8192u);
    EXPECT_EQ(g64.cont_ptes(), 32u);
    EXPECT_EQ(g64.cont_pte_size(), 2u << 20);
    EXPECT_EQ(g64.pmd_size(), 512u << 20);
    EXPECT_EQ(g64.cont_pmd_size(), 16ull << 30);
    EXPECT_EQ(g64.start_level, 1u);
    EXPECT_EQ(g64.start_table_entries(), 64u);
}

TEST(ArchSizes, ParseAndName) {
    EXPECT_EQ(parse_size("4K"), 4096u);
    EXPECT_EQ(parse_size("64KB"), 65536u);
    EXPECT_EQ(parse_size("2M"), 2u << 20);
    EXPECT_EQ(parse_size("16G"), 16ull << 30);
    EXPECT_EQ(parse_size("4096"), 4096u);
    EXPECT_FALSE(parse_size("3X").has_value());
    EXPECT_FALSE(parse_size("").has_value());
    EXPECT_FALSE(parse_size("K").has_value());
    EXPECT_EQ(size_name(65536), "64K");
    EXPECT_EQ(size_name(32u << 20), "32M");
    EXPECT_EQ(size_name(1ull << 30), "1G");
    EXPECT_EQ(size_name(1000), "1000");
}

TEST(ArchSizes, ParseAddress) {
    EXPECT_EQ(parse_address("0x7f0000000000"), 0x7f0000000000u);
    EXPECT_EQ(parse_address("0XaBc"), 0xabcu);
    EXPECT_EQ(parse_address("0xffffffffffffffff"), ~std::uint64_t{0});
    for (const char* bad : {"", "0x", "0x-1000", "0x 12", "0x+1", "0x12g", "1234", "x12", "0x10000000000000000"})
        EXPECT_FALSE(parse_address(bad).has_value()) << bad;
}

TEST(ArchDescriptor, DirtyModel) {
    using namespace bits;
    const Desc writable_clean = kValid | kDbm | kRdonly;
    EXPECT_FALSE(desc_dirty(writable_clean));
    EXPECT_TRUE(desc_dirty(writable_clean & ~kRdonly));       // hardware dirty
    EXPECT_TRUE(desc_dirty(writable_clean | kSwDirty));       // software dirty
    EXPECT_EQ(desc_mkdirty(writable_clean) & kRdonly, 0u);    // writable: RDONLY cleared
    EXPECT_NE(desc_mkdirty(kValid | kRdonly) & kRdonly, 0u);  // not writable: stays read-only
    EXPECT_EQ(desc_normalise_ad(desc_mkdirty(writable_clean) | kAf), writable_clean);
    EXPECT_EQ(desc_pfn(desc_with_pfn(kValid, 0x12345, 12), 12), 0x12345u);
}

std::vector<TlbiRangeOp> ops(std::uint64_t pages, bool range) {
    std::vector<TlbiRangeOp> out;
    tlbi_range_ops(pages, 1, range, [&](const TlbiRangeOp& op) { out.push_back(op); });
    return out;
}

TEST(TlbiRange, InstructionCountsOfTheSpecExamples) {
    EXPECT_EQ(ops(1, true).size(), 1u);
    EXPECT_FALSE(ops(1, true)[0].range);
    EXPECT_EQ(ops(16, true).size(), 1u);
    EXPECT_TRUE(ops(16, true)[0].range);
    EXPECT_EQ(ops(17, true).size(), 2u);
    EXPECT_EQ(ops(3, true).size(), 2u);
    EXPECT_EQ(ops(512, true).size(), 1u);
    EXPECT_EQ(ops(513, true).size(), 2u);
    EXPECT_EQ(ops(16, false).size(), 16u);
    // Every page is covered exactly once, in order.
    for (std::uint64_t n : {1u, 2u, 3u, 17u, 63u, 64u, 65u, 1000u, 2047u, 70000u}) {
        std::uint64_t next = 0;
        for (const TlbiRangeOp& op : ops(n, true)) {
            EXPECT_EQ(op.first_page, next) << n;
            next += op.pages;
        }
        EXPECT_EQ(next, n);
        EXPECT_LE(ops(n, true).size(), 5u) << n;
    }
}

}  // namespace
}  // namespace mmusim::arch
