// MADV_COLLAPSE (issue 13 section 3): a PMD range of 64K folios, folded, collapsed into one
// PMD-mapped THP. Before v6.17 each detached entry is cleared with ptep_clear, which unfolds
// every folded block first (a convert and its TLBI each); from v6.17 one clear_ptes per folio
// batch clears whole blocks without a convert.
#include "tests/kernel/scenario_fixture.h"

namespace mmusim::kernel::testing {
namespace {

using arch::TlbiOp;
constexpr std::uint64_t kBase = KernelScenario::kScriptBase;
constexpr std::uint64_t kPage = 4096;
constexpr std::uint64_t kPmd = 2u << 20;

class Collapse : public KernelScenario {
protected:
    // A 4M VMA whose first 2M are written with 64K folios (32 folded blocks).
    void populated(const char* version) {
        build(scripted(version));
        ASSERT_EQ(mmap_anon(kBase, 2 * kPmd), 0);
        for (std::uint64_t a = kBase; a < kBase + kPmd; a += 64 * 1024) fault(a, arch::Access::Store);
        ASSERT_TRUE(block_folded());
    }
    Desc pmd() const { return mem->peek(kernel->tables().pmd_lookup(kernel->mm(), kBase)); }
};

TEST_F(Collapse, FoldedBlocksCollapseWithoutConvertsFromV617) {
    populated("6.17");
    const auto thp_folios = [&] {
        const auto it = kernel->stats().folios_by_size.find(kPmd);
        return it == kernel->stats().folios_by_size.end() ? std::uint64_t{0} : it->second;
    };
    const std::uint64_t folios_before = thp_folios();
    mark();
    ASSERT_EQ(madvise(kBase, kPmd, Advice::Collapse), 0);
    const Delta d = delta();
    EXPECT_TRUE(MmOps::pmd_leaf(pmd()));
    EXPECT_TRUE(arch::desc_write(pmd()));
    EXPECT_EQ(kernel->stats().thp_collapse_alloc, 1u);
    EXPECT_EQ(thp_folios(), folios_before + 1);
    EXPECT_EQ(d.converts, 0u);
    EXPECT_EQ(d.X, 512u);  // 32 clear_ptes(16)
    EXPECT_EQ(d.tlbi_op(TlbiOp::RVAE1IS), 1u);  // pmdp_collapse_flush: the whole range, all levels
    EXPECT_EQ(d.tlbi, 1u);
    // The old table is kept for a later split; the old folios are gone.
    EXPECT_EQ(kernel->mm().deposited.count(kBase), 1u);
}

TEST_F(Collapse, BeforeV617EveryFoldedBlockIsUnfoldedFirst) {
    populated("6.16");
    mark();
    ASSERT_EQ(madvise(kBase, kPmd, Advice::Collapse), 0);
    const Delta d = delta();
    EXPECT_EQ(d.unfolds, 32u);  // ptep_clear of each block's first entry
    EXPECT_EQ(d.converts, 32u);
    EXPECT_EQ(d.tlbi, 1u + 32u);
    EXPECT_TRUE(MmOps::pmd_leaf(pmd()));
}

TEST_F(Collapse, WhatCannotBeCollapsedIsRefused) {
    populated("6.17");
    // A range with no whole PMD range, and one with nothing mapped: EINVAL, nothing done.
    EXPECT_EQ(madvise(kBase, 64 * 1024, Advice::Collapse), 0);  // no whole PMD range: nothing to do
    EXPECT_EQ(madvise(kBase + kPmd, kPmd, Advice::Collapse), -err::kEinval);
    // VM_NOHUGEPAGE.
    ASSERT_EQ(madvise(kBase, kPmd, Advice::NoHugePage), 0);
    EXPECT_EQ(madvise(kBase, kPmd, Advice::Collapse), -err::kEinval);
    EXPECT_FALSE(MmOps::pmd_leaf(pmd()));
    // Already a THP: success without work.
    ASSERT_EQ(madvise(kBase, kPmd, Advice::HugePage), 0);
    ASSERT_EQ(madvise(kBase, kPmd, Advice::Collapse), 0);
    mark();
    EXPECT_EQ(madvise(kBase, kPmd, Advice::Collapse), 0);
    EXPECT_EQ(delta().tlbi, 0u);
    EXPECT_EQ(kernel->stats().thp_collapse_alloc, 1u);
}

TEST_F(Collapse, ACollapsedThpReadsLikeOneTranslation) {
    populated("6.17");
    ASSERT_EQ(madvise(kBase, kPmd, Advice::Collapse), 0);
    const mmu::TranslationExt t = translate(kBase + 5 * kPage, arch::Access::Load);
    EXPECT_EQ(t.fault, arch::FaultKind::None);
    const mmu::TranslationExt u = translate(kBase + kPmd - kPage, arch::Access::Store);
    EXPECT_EQ(u.fault, arch::FaultKind::None);
    EXPECT_EQ(u.pa - t.pa, kPmd - 6 * kPage);
}

}  // namespace
}  // namespace mmusim::kernel::testing
