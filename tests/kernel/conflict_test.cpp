// A TLB conflict produced on purpose (spec/mmu.md §2.4): with BBML2_NOABORT a fold skips its
// TLBI, so a 4K entry cached before the fold and the new 64K block entry both cover a VA.
#include "tests/kernel/kernel_fixture.h"

namespace mmusim::kernel::testing {
namespace {

using namespace arch::bits;
constexpr std::uint64_t kBlock = 0x30000000;
constexpr std::uint64_t kPage = 4096;
constexpr arch::Desc kProt = kValid | kType | kUser | kShInner | kAf | kNg | kPxn | kDbm | kSwDirty;

class TlbConflict : public KernelFixture {
protected:
    // Maps the block page by page (the last store folds it) after caching page 0's 4K entry.
    void fold_behind_a_cached_entry() {
        KernelConfig c = config();
        c.bbml2_noabort = true;
        build(c);
        fault(kBlock + 0x100000, arch::Access::Store);  // the PTE table
        const Folio folio = *kernel->folios().alloc(4);
        const auto set = [&](unsigned i) {
            kernel->pgtable().set_pte_at(kernel->mm(), kBlock + i * kPage, pte_pa(kBlock + i * kPage),
                                         arch::desc_with_pfn(kProt, folio.head_pfn + i, 12));
        };
        set(0);
        ASSERT_EQ(translate(kBlock, arch::Access::Load).fault, arch::FaultKind::None);  // 4K entry cached
        for (unsigned i = 1; i < 16; ++i) set(i);
        ASSERT_EQ(kernel->stats().folds, 1u);
        ASSERT_EQ(kernel->stats().tlbi[static_cast<std::size_t>(arch::TlbiOp::RVALE1IS)] +
                      kernel->stats().tlbi[static_cast<std::size_t>(arch::TlbiOp::VALE1IS)], 0u);
        // Another page of the block: walked, the 64K block entry is filled.
        ASSERT_EQ(translate(kBlock + 5 * kPage, arch::Access::Load).fault, arch::FaultKind::None);
    }
};

TEST_F(TlbConflict, AbortsOnHardwareWithoutBbml2Semantics) {
    conflict_abort = true;
    fold_behind_a_cached_entry();
    const mmu::TranslationExt r = translate(kBlock, arch::Access::Load);
    EXPECT_EQ(r.fault, arch::FaultKind::TlbConflict);
    ASSERT_NE(r.detail, nullptr);
    const std::string detail = r.detail;
    EXPECT_NE(detail.find("VA 0x30000000"), std::string::npos) << detail;
    EXPECT_NE(detail.find("4K at VA 0x30000000"), std::string::npos) << detail;
    EXPECT_NE(detail.find("64K at VA 0x30000000"), std::string::npos) << detail;
    EXPECT_EQ(mmu_->stats().tlb_conflicts, 1u);
}

TEST_F(TlbConflict, Bbml2NoabortUsesTheSmallestEntry) {
    conflict_abort = false;
    fold_behind_a_cached_entry();
    const mmu::TranslationExt r = translate(kBlock + 0x10, arch::Access::Load);
    EXPECT_EQ(r.fault, arch::FaultKind::None);
    EXPECT_EQ(mmu_->stats().tlb_conflicts, 1u);
    EXPECT_EQ(mmu_->l1d().valid_entries(), 2u);  // the stale 4K and the block entry coexist
    // A TLBI of the block (the caller's own later flush) ends the conflict.
    kernel->tlb_flush().flush_tlb_range(kernel->mm(), kBlock, kBlock + 16 * kPage, kPage, true, 3);
    EXPECT_EQ(translate(kBlock, arch::Access::Load).fault, arch::FaultKind::None);
    EXPECT_EQ(mmu_->stats().tlb_conflicts, 1u);
}

}  // namespace
}  // namespace mmusim::kernel::testing
