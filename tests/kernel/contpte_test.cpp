// The contpte engine through the arm64 page-table API (spec/kernel.md §5.3-§5.7, and the
// per-block cheat-sheet of §5.5): fold at the last entry, failed folds, unfold on a clear,
// the getters' reads, and the TLBI forms of a convert.
#include "tests/kernel/kernel_fixture.h"

namespace mmusim::kernel::testing {
namespace {

using namespace arch::bits;
constexpr std::uint64_t kBlock = 0x20000000;
constexpr std::uint64_t kPage = 4096;
constexpr arch::Desc kProt = kValid | kType | kUser | kShInner | kAf | kNg | kPxn | kDbm | kSwDirty;

class ContpteEngine : public KernelFixture {
protected:
    void setup(KernelConfig c) {
        build(c);
        // A PTE table for the block, made by a fault in another block of the same table.
        kernel->faults().handle_mm_fault(kernel->mm(), FaultRequest{kBlock + 0x100000, arch::Access::Store,
                                                                    arch::FaultKind::Translation, 3});
        folio = *kernel->folios().alloc(4);
    }
    arch::Desc entry(unsigned i) const { return arch::desc_with_pfn(kProt, folio.head_pfn + i, 12); }
    void set_one(unsigned i) { kernel->pgtable().set_pte_at(kernel->mm(), kBlock + i * kPage, pte_pa(kBlock + i * kPage), entry(i)); }
    Folio folio;
};

TEST_F(ContpteEngine, FoldAtTheLastEntryCostsTheCheatSheetFigures) {
    setup(config());
    for (unsigned i = 0; i < 15; ++i) set_one(i);
    EXPECT_EQ(kernel->stats().fold_attempts, 0u);
    mark();
    set_one(15);
    const Delta d = delta();
    // 1 R + 1 W (the store), 16 R (comparison), convert: 16 X, TLBI-sync of 16 pages
    // without FEAT_TLBIRANGE (16 VALE1IS between DSB.ISHST and DSB.ISH), 16 W.
    EXPECT_EQ(d.fold_attempts, 1u);
    EXPECT_EQ(d.folds, 1u);
    EXPECT_EQ(d.converts, 1u);
    EXPECT_EQ(d.R, 17u);
    EXPECT_EQ(d.W, 17u);
    EXPECT_EQ(d.X, 16u);
    EXPECT_EQ(d.tlbi_op(arch::TlbiOp::VALE1IS), 16u);
    EXPECT_EQ(d.tlbi, 16u);
    EXPECT_EQ(d.dsb_ishst, 1u);
    EXPECT_EQ(d.dsb_ish, 1u);
    EXPECT_EQ(d.isb, 0u);
    for (unsigned i = 0; i < 16; ++i) EXPECT_TRUE(arch::desc_valid_cont(pte(kBlock + i * kPage))) << i;
}

TEST_F(ContpteEngine, FoldWithTlbiRangeIsOneRangeOpAndWithBbml2None) {
    KernelConfig c = config();
    c.tlbirange = true;
    setup(c);
    for (unsigned i = 0; i < 15; ++i) set_one(i);
    mark();
    set_one(15);
    Delta d = delta();
    EXPECT_EQ(d.tlbi, 1u);
    EXPECT_EQ(d.tlbi_op(arch::TlbiOp::RVALE1IS), 1u);

    KernelConfig b = config();
    b.bbml2_noabort = true;
    setup(b);
    for (unsigned i = 0; i < 15; ++i) set_one(i);
    mark();
    set_one(15);
    d = delta();
    EXPECT_EQ(d.converts, 1u);
    EXPECT_EQ(d.X, 16u);
    EXPECT_EQ(d.tlbi + d.dsb_ishst + d.dsb_ish, 0u);
}

TEST_F(ContpteEngine, FoldStopsAtTheFirstMismatchingEntry) {
    setup(config());
    for (unsigned i = 0; i < 15; ++i) set_one(i);
    // Entry 4 gets different permissions (read-only).
    kernel->pgtable().set_pte_at(kernel->mm(), kBlock + 4 * kPage, pte_pa(kBlock + 4 * kPage), entry(4) & ~kDbm);
    mark();
    set_one(15);
    const Delta d = delta();
    EXPECT_EQ(d.fold_attempts, 1u);
    EXPECT_EQ(d.folds, 0u);
    EXPECT_EQ(d.R, 1u + 5u);  // the store's read, then entries 0..4
    EXPECT_EQ(d.W, 1u);
    EXPECT_FALSE(arch::desc_cont(pte(kBlock)));
}

TEST_F(ContpteEngine, UnfoldBeforeClearingOneEntry) {
    setup(config());
    kernel->pgtable().set_ptes(kernel->mm(), kBlock, pte_pa(kBlock), entry(0), 16);
    ASSERT_TRUE(arch::desc_valid_cont(pte(kBlock + 3 * kPage)));
    mark();
    const arch::Desc old = kernel->pgtable().ptep_get_and_clear(kernel->mm(), kBlock + 3 * kPage, pte_pa(kBlock + 3 * kPage));
    const Delta d = delta();
    // 1 R + convert (16 X, 16 VALE1IS, 16 W) + 1 X.
    EXPECT_EQ(d.unfolds, 1u);
    EXPECT_EQ(d.R, 1u);
    EXPECT_EQ(d.X, 17u);
    EXPECT_EQ(d.W, 16u);
    EXPECT_EQ(d.tlbi, 16u);
    EXPECT_FALSE(arch::desc_cont(old));
    EXPECT_EQ(pte(kBlock + 3 * kPage), 0u);
    for (unsigned i = 0; i < 16; ++i) {
        if (i != 3) {
            EXPECT_FALSE(arch::desc_cont(pte(kBlock + i * kPage))) << i;
        }
    }
}

TEST_F(ContpteEngine, ConvertSmearsAccessAndDirtyOverTheBlock) {
    setup(config());
    const arch::Desc clean_old = arch::desc_mkold(arch::desc_mkclean(kProt));
    for (unsigned i = 0; i < 15; ++i)
        kernel->pgtable().set_pte_at(kernel->mm(), kBlock + i * kPage, pte_pa(kBlock + i * kPage),
                                     arch::desc_with_pfn(clean_old, folio.head_pfn + i, 12));
    // Only the last entry is young and dirty.
    set_one(15);
    ASSERT_EQ(kernel->stats().folds, 1u);
    for (unsigned i = 0; i < 16; ++i) {
        EXPECT_TRUE(arch::desc_young(pte(kBlock + i * kPage))) << i;
        EXPECT_TRUE(arch::desc_dirty(pte(kBlock + i * kPage))) << i;
    }
}

TEST_F(ContpteEngine, LocklessGetterRereadsTheTargetThenTheBlock) {
    KernelConfig c = config();
    c.version = *KernelVersion::parse("6.9");
    setup(c);
    kernel->pgtable().set_ptes(kernel->mm(), kBlock, pte_pa(kBlock), entry(0), 16);
    mark();
    (void)kernel->pgtable().ptep_get_lockless(pte_pa(kBlock + 2 * kPage));
    // The inline wrapper reads the target; contpte_ptep_get_lockless reads it again before
    // checking all 16 entries (arch/arm64: ptep_get_lockless, contpte.c).
    EXPECT_EQ(delta().R, 18u);
    // On a plain entry it is one read.
    mark();
    (void)kernel->pgtable().ptep_get_lockless(pte_pa(kBlock + 16 * kPage));
    EXPECT_EQ(delta().R, 1u);
}

TEST_F(ContpteEngine, SetPtesAppliesContOnlyToWholeAlignedBlocks) {
    setup(config());
    // 24 pages from the middle of a block: 8 + 16, only the second chunk is a whole block.
    const Folio big = *kernel->folios().alloc(5);  // 128 KiB, PA aligned
    const std::uint64_t va = kBlock + 8 * kPage;
    mark();
    kernel->pgtable().set_ptes(kernel->mm(), va, pte_pa(va), arch::desc_with_pfn(kProt, big.head_pfn + 8, 12), 24);
    const Delta d = delta();
    EXPECT_EQ(d.W, 24u);
    EXPECT_EQ(d.R, 0u);
    EXPECT_EQ(d.blocks_cont, 1u);
    EXPECT_FALSE(arch::desc_cont(pte(va)));
    EXPECT_TRUE(arch::desc_cont(pte(kBlock + 16 * kPage)));
    EXPECT_TRUE(arch::desc_cont(pte(kBlock + 31 * kPage)));
}

}  // namespace
}  // namespace mmusim::kernel::testing
