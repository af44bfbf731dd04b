// mremap (issue 13 section 3): a range holding folded blocks moved to a fixed address. From
// v6.17 move_ptes moves a folded block as one batch (get_and_clear_ptes, set_ptes: no
// convert); before, entry by entry (an unfold at the first clear, a refold at the last
// store). A PMD range aligned on both sides moves its whole PTE table (move_normal_pmd).
#include "tests/kernel/scenario_fixture.h"

namespace mmusim::kernel::testing {
namespace {

using arch::TlbiOp;
constexpr std::uint64_t kBase = KernelScenario::kScriptBase;
constexpr std::uint64_t kPage = 4096;
constexpr std::uint64_t kBlockSize = 64 * 1024;
constexpr std::uint64_t kTo = kBase + (8u << 20);

class Mremap : public KernelScenario {
protected:
    int mremap(std::uint64_t addr, std::uint64_t len, std::uint64_t new_addr) {
        Syscall c;
        c.op = SyscallOp::Mremap;
        c.addr = addr;
        c.len = len;
        c.new_addr = new_addr;
        return sys(c);
    }
    bool folded_at(std::uint64_t va) const {
        for (unsigned i = 0; i < 16; ++i)
            if (!arch::desc_valid_cont(pte(va + i * kPage))) return false;
        return true;
    }
};

TEST_F(Mremap, FoldedBlockMovesAsOneBatchFromV617) {
    folded_block(scripted("6.17"));
    const arch::Desc first = pte(kBase);
    mark();
    ASSERT_EQ(mremap(kBase, kBlockSize, kTo), 0);
    const Delta d = delta();
    EXPECT_EQ(d.converts, 0u);
    EXPECT_EQ(d.X, 16u);
    EXPECT_EQ(d.W, 16u);
    EXPECT_EQ(d.blocks_cont, 1u);
    EXPECT_TRUE(folded_at(kTo));
    EXPECT_EQ(arch::desc_pfn(pte(kTo), 12), arch::desc_pfn(first, 12));
    EXPECT_EQ(pte(kBase), 0u);
    // One flush of the old range (flush_tlb_range: all levels, TTL unknown).
    EXPECT_EQ(d.tlbi_op(TlbiOp::RVAE1IS), 1u);
    EXPECT_EQ(kernel->mm().find_vma(kBase), nullptr);
    ASSERT_NE(kernel->mm().find_vma(kTo), nullptr);
    EXPECT_EQ(kernel->mm().find_vma(kTo)->end, kTo + kBlockSize);
}

TEST_F(Mremap, FoldedBlockMovesEntryByEntryBeforeV617) {
    folded_block(scripted("6.16"));
    mark();
    ASSERT_EQ(mremap(kBase, kBlockSize, kTo), 0);
    const Delta d = delta();
    // ptep_get_and_clear of the first entry unfolds the block; set_pte_at of the last entry
    // at the new place finds all sixteen alike and folds it again.
    EXPECT_EQ(d.unfolds, 1u);
    EXPECT_EQ(d.folds, 1u);
    EXPECT_EQ(d.converts, 2u);
    EXPECT_EQ(d.blocks_cont, 0u);
    EXPECT_TRUE(folded_at(kTo));
}

TEST_F(Mremap, ADestinationOffTheBlockGridLosesTheContiguousHint) {
    folded_block(scripted("6.17"));
    ASSERT_EQ(mremap(kBase, kBlockSize, kTo + kPage), 0);
    for (unsigned i = 0; i < 16; ++i) {
        EXPECT_TRUE(arch::desc_valid(pte(kTo + kPage + i * kPage))) << i;
        EXPECT_FALSE(arch::desc_cont(pte(kTo + kPage + i * kPage))) << i;
    }
}

TEST_F(Mremap, AnAlignedPmdRangeMovesItsWholeTable) {
    folded_block(scripted("6.17"));
    mark();
    ASSERT_EQ(mremap(kBase, 2u << 20, kTo), 0);
    const Delta d = delta();
    EXPECT_EQ(kernel->stats().mremap_pmds_moved, 1u);
    EXPECT_EQ(d.X + d.W + d.converts, 0u);  // not one PTE touched
    EXPECT_TRUE(folded_at(kTo));
    EXPECT_EQ(pte_pa(kBase), 0u);  // the old PMD entry is empty
    EXPECT_GE(d.tlbi, 1u);
}

TEST_F(Mremap, BadRangesAreRefusedAsLinuxDoes) {
    folded_block(scripted("6.17"));
    EXPECT_EQ(mremap(kBase + 1, kPage, kTo), -err::kEinval);
    EXPECT_EQ(mremap(kBase, kBlockSize, kBase + kPage), -err::kEinval);         // overlapping
    EXPECT_EQ(mremap(kBase + (4u << 20), kPage, kTo), -err::kEfault);           // nothing mapped
    EXPECT_EQ(mremap(kBase + (1u << 20), 2u << 20, kTo), -err::kEfault);        // past the VMA
}

}  // namespace
}  // namespace mmusim::kernel::testing
