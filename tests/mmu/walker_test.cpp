// Walker decode of each descriptor kind, the contiguous hint, and the FEAT_HAFDBS updates,
// on real descriptors held by a fake descriptor memory.
#include <gtest/gtest.h>

#include <map>

#include "models/arch/descriptor.h"
#include "models/mmu/walker.h"

namespace mmusim::mmu {
namespace {

using namespace arch::bits;

class FakeMemory : public DescriptorPort {
public:
    std::map<std::uint64_t, std::uint64_t> words;
    unsigned reads = 0, cas = 0;
    std::uint64_t read_descriptor(std::uint64_t pa, sc_core::sc_time&) override {
        ++reads;
        return words.count(pa) ? words[pa] : 0;
    }
    std::uint64_t cas_descriptor(std::uint64_t pa, std::uint64_t expected, std::uint64_t value, sc_core::sc_time&) override {
        ++cas;
        const std::uint64_t old = words[pa];
        if (old == expected) words[pa] = value;
        return old;
    }
};

// User read/write page attributes (dirty, young).
constexpr arch::Desc kUserRw = kValid | kType | kUser | kShInner | kAf | kNg | kDbm | kPxn;

class WalkerTest : public ::testing::Test {
protected:
    static constexpr std::uint64_t kPgd = 0x1000, kPud = 0x2000, kPmd = 0x3000, kPte = 0x4000;
    FakeMemory mem;
    sc_core::sc_time delay;

    // 4K granule tables for VA 0x40201000: L0 index 0, L1 index 1, L2 index 1, L3 index 1.
    static constexpr std::uint64_t kVa = 0x40201000;
    void link_tables() {
        mem.words[kPgd + 0 * 8] = arch::make_table_desc(kPud);
        mem.words[kPud + 1 * 8] = arch::make_table_desc(kPmd);
        mem.words[kPmd + 1 * 8] = arch::make_table_desc(kPte);
    }
    WalkResult walk(std::uint64_t va, arch::Access access, WalkerConfig cfg = {}) {
        Walker w(cfg, mem);
        return w.walk(va, kPgd, access, delay);
    }
};

TEST_F(WalkerTest, FourLevelsToAPage) {
    link_tables();
    mem.words[kPte + 1 * 8] = kUserRw | 0x77000;
    const WalkResult r = walk(kVa + 0x123, arch::Access::Load);
    EXPECT_EQ(r.fault, arch::FaultKind::None);
    EXPECT_EQ(r.level, 3u);
    EXPECT_EQ(r.reads, 4u);
    EXPECT_EQ(r.size, 4096u);
    EXPECT_EQ(r.region_va, kVa);
    EXPECT_EQ(r.region_pa, 0x77000u);
    EXPECT_EQ(r.desc_pa, kPte + 8);
}

TEST_F(WalkerTest, InvalidDescriptorFaultsAtItsLevel) {
    WalkResult r = walk(kVa, arch::Access::Load);
    EXPECT_EQ(r.fault, arch::FaultKind::Translation);
    EXPECT_EQ(r.level, 0u);
    EXPECT_EQ(r.reads, 1u);
    mem.words[kPgd] = arch::make_table_desc(kPud);
    r = walk(kVa, arch::Access::Load);
    EXPECT_EQ(r.level, 1u);
    link_tables();
    r = walk(kVa, arch::Access::Load);
    EXPECT_EQ(r.fault, arch::FaultKind::Translation);
    EXPECT_EQ(r.level, 3u);
    EXPECT_EQ(r.reads, 4u);
}

// A VA beyond 48 bits is outside TTBR0's range: a translation fault before any read, not a
// walk of its low 48 bits.
TEST_F(WalkerTest, VaBeyond48BitsFaultsWithoutAWalk) {
    link_tables();
    mem.words[kPte + 1 * 8] = kUserRw | 0x77000;
    ASSERT_EQ(walk(kVa, arch::Access::Load).fault, arch::FaultKind::None);
    mem.reads = 0;
    const WalkResult r = walk(kVa | (std::uint64_t{1} << 48), arch::Access::Load);
    EXPECT_EQ(r.fault, arch::FaultKind::Translation);
    EXPECT_EQ(r.level, 0u);
    EXPECT_EQ(r.reads, 0u);
    EXPECT_EQ(mem.reads, 0u);
}

TEST_F(WalkerTest, ReservedLevel3DescriptorIsATranslationFault) {
    link_tables();
    mem.words[kPte + 8] = (kUserRw & ~kType) | 0x77000;  // bit 1 clear at level 3
    const WalkResult r = walk(kVa, arch::Access::Load);
    EXPECT_EQ(r.fault, arch::FaultKind::Translation);
    EXPECT_EQ(r.level, 3u);
}

TEST_F(WalkerTest, BlocksAtLevelsOneAndTwo) {
    mem.words[kPgd] = arch::make_table_desc(kPud);
    mem.words[kPud + 8] = (kUserRw & ~kType) | 0x80000000;  // 1G block
    WalkResult r = walk(0x40201234, arch::Access::Load);
    EXPECT_EQ(r.fault, arch::FaultKind::None);
    EXPECT_EQ(r.level, 1u);
    EXPECT_EQ(r.size, 1ull << 30);
    EXPECT_EQ(r.region_pa, 0x80000000u);
    mem.words[kPud + 8] = arch::make_table_desc(kPmd);
    mem.words[kPmd + 8] = (kUserRw & ~kType) | 0xc0200000;  // 2M block
    r = walk(0x40201234, arch::Access::Load);
    EXPECT_EQ(r.level, 2u);
    EXPECT_EQ(r.size, 2u << 20);
    EXPECT_EQ(r.region_va, 0x40200000u);
    EXPECT_EQ(r.region_pa, 0xc0200000u);
    EXPECT_EQ(r.reads, 3u);
}

TEST_F(WalkerTest, ContiguousPageIsOneSixtyFourKTranslationWhenHonoured) {
    link_tables();
    for (unsigned i = 0; i < 16; ++i) mem.words[kPte + i * 8] = kUserRw | kCont | (0x100000 + i * 0x1000);
    WalkResult r = walk(0x40203000, arch::Access::Load);
    EXPECT_EQ(r.size, 64u * 1024);
    EXPECT_EQ(r.region_va, 0x40200000u);
    EXPECT_EQ(r.region_pa, 0x100000u);
    WalkerConfig ignore;
    ignore.honour_cont = false;
    r = walk(0x40203000, arch::Access::Load, ignore);
    EXPECT_EQ(r.size, 4096u);
    EXPECT_EQ(r.region_va, 0x40203000u);
    EXPECT_EQ(r.region_pa, 0x103000u);
}

TEST_F(WalkerTest, ContiguousPmdBlockIsThirtyTwoM) {
    mem.words[kPgd] = arch::make_table_desc(kPud);
    mem.words[kPud + 8] = arch::make_table_desc(kPmd);
    mem.words[kPmd + 8] = (kUserRw & ~kType) | kCont | 0xc0200000;
    const WalkResult r = walk(0x40201000, arch::Access::Load);
    EXPECT_EQ(r.size, 32u << 20);
    EXPECT_EQ(r.region_va, 0x40000000u);
    EXPECT_EQ(r.region_pa, 0xc0000000u);
}

TEST_F(WalkerTest, PermissionChecks) {
    link_tables();
    mem.words[kPte + 8] = (kUserRw & ~kUser) | 0x77000;  // kernel-only
    EXPECT_EQ(walk(kVa, arch::Access::Load).fault, arch::FaultKind::Permission);
    mem.words[kPte + 8] = kUserRw | kUxn | 0x77000;
    EXPECT_EQ(walk(kVa, arch::Access::Ifetch).fault, arch::FaultKind::Permission);
    EXPECT_EQ(walk(kVa, arch::Access::Store).fault, arch::FaultKind::None);
    mem.words[kPte + 8] = (kUserRw & ~kDbm) | kRdonly | 0x77000;  // read-only, not writable-clean
    EXPECT_EQ(walk(kVa, arch::Access::Store).fault, arch::FaultKind::Permission);
    EXPECT_EQ(walk(kVa, arch::Access::Load).fault, arch::FaultKind::None);
}

TEST_F(WalkerTest, HardwareAccessFlagAndDirtyUpdatesTouchOnlyTheUsedDescriptor) {
    link_tables();
    const arch::Desc clean_old = (kUserRw & ~kAf) | kRdonly | kCont;  // writable-clean, old, contiguous
    for (unsigned i = 0; i < 16; ++i) mem.words[kPte + i * 8] = clean_old | (0x100000 + i * 0x1000);
    WalkResult r = walk(0x40201000, arch::Access::Store);
    EXPECT_EQ(r.fault, arch::FaultKind::None);
    EXPECT_TRUE(r.af_updated);
    EXPECT_TRUE(r.dirty_updated);
    EXPECT_EQ(mem.words[kPte + 8] & (kAf | kRdonly), kAf);
    for (unsigned i = 0; i < 16; ++i)
        if (i != 1) {
            EXPECT_EQ(mem.words[kPte + i * 8], clean_old | (0x100000 + i * 0x1000)) << i;
        }
}

TEST_F(WalkerTest, WithoutHardwareManagementOldAndCleanEntriesFault) {
    link_tables();
    WalkerConfig sw;
    sw.hafdbs = false;
    mem.words[kPte + 8] = (kUserRw & ~kAf) | 0x77000;
    EXPECT_EQ(walk(kVa, arch::Access::Load, sw).fault, arch::FaultKind::AccessFlag);
    mem.words[kPte + 8] = kUserRw | kRdonly | 0x77000;
    EXPECT_EQ(walk(kVa, arch::Access::Store, sw).fault, arch::FaultKind::Permission);
    EXPECT_EQ(mem.cas, 0u);
}

TEST_F(WalkerTest, SixtyFourKGranuleStartsAtLevelOne) {
    WalkerConfig cfg;
    cfg.granule = arch::Granule::K64;
    // 64K granule: L1 index = VA[47:42], L2 = VA[41:29], L3 = VA[28:16].
    const std::uint64_t va = (3ull << 42) | (5ull << 29) | (7ull << 16) | 0x1234;
    mem.words[kPgd + 3 * 8] = arch::make_table_desc(0x20000);
    mem.words[0x20000 + 5 * 8] = arch::make_table_desc(0x30000);
    mem.words[0x30000 + 7 * 8] = kUserRw | 0x5550000;
    const WalkResult r = walk(va, arch::Access::Load, cfg);
    EXPECT_EQ(r.fault, arch::FaultKind::None);
    EXPECT_EQ(r.reads, 3u);
    EXPECT_EQ(r.size, 64u * 1024);
    EXPECT_EQ(r.region_pa, 0x5550000u);
}

TEST_F(WalkerTest, SixteenKGranuleContiguousIsTwoM) {
    WalkerConfig cfg;
    cfg.granule = arch::Granule::K16;
    // 16K granule: L0 = VA[47], L1 = VA[46:36], L2 = VA[35:25], L3 = VA[24:14]; CONT_PTES = 128.
    const std::uint64_t va = (1ull << 36) | (2ull << 25) | (130ull << 14);
    mem.words[kPgd] = arch::make_table_desc(0x10000);
    mem.words[0x10000 + 8] = arch::make_table_desc(0x20000);
    mem.words[0x20000 + 2 * 8] = arch::make_table_desc(0x40000);
    mem.words[0x40000 + 130 * 8] = kUserRw | kCont | (0x8000000 + 2 * 0x4000);
    const WalkResult r = walk(va, arch::Access::Load, cfg);
    EXPECT_EQ(r.fault, arch::FaultKind::None);
    EXPECT_EQ(r.size, 2u << 20);
    EXPECT_EQ(r.region_pa, 0x8000000u);
    EXPECT_EQ(r.region_va, va & ~((2ull << 20) - 1));
}

}  // namespace
}  // namespace mmusim::mmu
