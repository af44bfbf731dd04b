// kernel.fold_policy, the background fold scanner, kernel.fragmentation and
// kernel.exec_folios, on the spec/kernel.md §8 scenarios they change (4K pages, N = 16,
// FEAT_TLBIRANGE, no BBML2 unless stated). Linux's own rule is what scenario_ops_test checks.
#include "tests/kernel/scenario_fixture.h"

#include "models/kernel/pte.h"

namespace mmusim::kernel::testing {
namespace {

using namespace arch::bits;
using arch::TlbiOp;
constexpr std::uint64_t kBase = KernelScenario::kScriptBase;
constexpr std::uint64_t kPage = 4096;
constexpr std::uint64_t kBlock = kBase;
constexpr unsigned kRW = kProtRead | kProtWrite;

class FoldPolicy : public KernelScenario {
protected:
    KernelConfig with(kernel::FoldPolicy policy) const {
        KernelConfig c = scripted();
        c.fold_policy = policy;
        return c;
    }
    // Scenario 6 then the undo of scenario 7, both at entry `entry`; the delta of the undo.
    Delta mprotect_and_undo(unsigned entry) {
        EXPECT_EQ(mprotect(kBlock + entry * kPage, kPage, kProtRead), 0);
        EXPECT_TRUE(block_unfolded());
        mark();
        EXPECT_EQ(mprotect(kBlock + entry * kPage, kPage, kRW), 0);
        return delta();
    }
    // Scenario 28: a 64K folio written by two set_ptes(8); the delta of both.
    Delta two_half_batches() {
        const arch::Desc e0 = half_batches_setup();
        mark();
        KernelScenario::two_half_batches(e0);
        return delta();
    }
};

TEST_F(FoldPolicy, AnyEntryRefoldsScenario7WithOneConvert) {
    folded_block(with(kernel::FoldPolicy::AnyEntry));
    const Delta d = mprotect_and_undo(5);
    // Linux leaves the block unfolded; any-entry tries at entry 5: 16 R, then the fold's
    // convert with break-before-make (16 X, one range TLBI, 16 W).
    EXPECT_EQ(d.fold_attempts, 1u);
    EXPECT_EQ(d.converts, 1u);
    EXPECT_EQ(d.folds, 1u);
    EXPECT_EQ(d.X, 1u + 16u);
    EXPECT_EQ(d.W, 1u + 16u);
    EXPECT_EQ(d.tlbi_op(TlbiOp::RVALE1IS), 1u);
    EXPECT_TRUE(block_folded());
}

TEST_F(FoldPolicy, AnyEntryPaysAFailedAttemptOnScenario6) {
    folded_block(with(kernel::FoldPolicy::AnyEntry));
    mark();
    ASSERT_EQ(mprotect(kBlock + 5 * kPage, kPage, kProtRead), 0);
    const Delta d = delta();
    // As Linux (scenario 6: 5 R, one unfold) plus one attempt that stops at entry 0.
    EXPECT_EQ(d.unfolds, 1u);
    EXPECT_EQ(d.fold_attempts, 1u);
    EXPECT_EQ(d.folds, 0u);
    EXPECT_EQ(d.R, 5u + 1u);
    EXPECT_TRUE(block_unfolded());
}

TEST_F(FoldPolicy, AnyEntryNeverFoldsOrder0Pages) {
    // Order-0 pages: an attempt (when a PFN happens to sit where its VA does) stops at the
    // folio check.
    KernelConfig c = with(kernel::FoldPolicy::AnyEntry);
    c.mthp_orders = {};
    build(c);
    ASSERT_EQ(mmap_anon(kBase, 2u << 20), 0);
    for (unsigned i = 0; i < 16; ++i) fault(kBlock + i * kPage, arch::Access::Store);
    EXPECT_EQ(kernel->stats().folds, 0u);
    EXPECT_TRUE(block_unfolded());
}

TEST_F(FoldPolicy, AfterBatchFoldsScenario28) {
    build(with(kernel::FoldPolicy::AfterBatch));
    const Delta d = two_half_batches();
    // The first batch's attempt reads 8 matching entries and stops at the none ninth; the
    // second one reads all 16 and folds.
    EXPECT_EQ(d.fold_attempts, 2u);
    EXPECT_EQ(d.folds, 1u);
    EXPECT_EQ(d.converts, 1u);
    EXPECT_EQ(d.R, 9u + 16u);  // the convert's break clears with X, not R
    EXPECT_TRUE(block_folded());
}

TEST_F(FoldPolicy, LinuxDoesNotFoldScenario28) {
    build(with(kernel::FoldPolicy::Linux));
    const Delta d = two_half_batches();
    EXPECT_EQ(d.fold_attempts, 0u);
    EXPECT_EQ(d.folds, 0u);
    EXPECT_TRUE(block_unfolded());
}

TEST_F(FoldPolicy, NeverFoldsButBatchesStillMapCont) {
    folded_block(with(kernel::FoldPolicy::Never));  // set_ptes(16) of the 64K folio
    const Delta d = mprotect_and_undo(15);         // Linux refolds here (scenario 7)
    EXPECT_EQ(d.fold_attempts, 0u);
    EXPECT_EQ(d.converts, 0u);
    EXPECT_TRUE(block_unfolded());
    EXPECT_EQ(kernel->stats().blocks_mapped_cont, 1u);
}

TEST_F(FoldPolicy, ScannerPassRefoldsWhatLinuxLeft) {
    folded_block(with(kernel::FoldPolicy::Scanner));
    const Delta undo = mprotect_and_undo(5);
    EXPECT_EQ(undo.folds, 0u);  // Linux's rule at the store
    ASSERT_TRUE(block_unfolded());
    mark();
    kernel->fold_scan();
    const Delta d = delta();
    const KernelStats& s = kernel->stats();
    EXPECT_EQ(s.scan_passes, 1u);
    EXPECT_EQ(s.scan_folds, 1u);
    EXPECT_EQ(d.folds, 1u);
    EXPECT_EQ(d.converts, 1u);
    EXPECT_EQ(d.fold_attempts, 0u);  // the pass does not go through __contpte_try_fold
    // Every block of the 2M VMA in the table is looked at: the folded one reads 16 entries,
    // the block of populate-free slots one entry each.
    EXPECT_EQ(s.scan_blocks, 32u);
    EXPECT_EQ(s.scan_entries, 16u + 31u);
    EXPECT_EQ(d.R, 16u + 31u);
    // Two context switches, each with its DSB.ISH, around the convert's own barriers.
    EXPECT_EQ(d.dsb_ish, 2u + 1u);
    EXPECT_TRUE(block_folded());
    EXPECT_EQ(s.by_op.at("fold_scan").folds, 1u);

    // A second pass finds the block folded: one read for it.
    mark();
    kernel->fold_scan();
    EXPECT_EQ(delta().folds, 0u);
    EXPECT_EQ(kernel->stats().scan_entries, 2 * (16u + 31u) - 15u);
}

TEST_F(FoldPolicy, ScannerPassStopsAtItsBudgetAndResumes) {
    KernelConfig c = with(kernel::FoldPolicy::Scanner);
    c.fold_scanner.pages_per_pass = 64;  // four blocks per pass
    folded_block(c);
    (void)mprotect_and_undo(5);
    kernel->fold_scan();
    EXPECT_EQ(kernel->stats().scan_blocks, 4u);
    EXPECT_EQ(kernel->stats().scan_folds, 1u);
    // The next passes continue after the fourth block, then wrap to the start.
    for (unsigned i = 0; i < 7; ++i) kernel->fold_scan();
    EXPECT_EQ(kernel->stats().scan_blocks, 32u);
    kernel->fold_scan();
    EXPECT_EQ(kernel->stats().scan_blocks, 36u);
    EXPECT_EQ(kernel->stats().scan_entries, (16u + 3u) + 28u + (1u + 3u));
}

TEST_F(FoldPolicy, FragmentationMakesLargeAllocationsFallBack) {
    KernelConfig c = scripted();
    c.fragmentation = 1.0;
    build(c);
    ASSERT_EQ(mmap_anon(kBase, 2u << 20), 0);
    EXPECT_STREQ(fault(kBlock, arch::Access::Store), "anon_folio_order0");
    EXPECT_EQ(kernel->stats().alloc_fallbacks_by_size.at(65536), 1u);

    // A level in between fails some requests, the same ones for the same seed.
    const auto fallbacks = [&](double f, std::uint64_t seed) {
        KernelConfig k = scripted();
        k.fragmentation = f;
        k.seed = seed;
        build(k);
        EXPECT_EQ(mmap_anon(kBase, 2u << 20), 0);
        for (unsigned b = 0; b < 32; ++b) fault(kBase + b * 16 * kPage, arch::Access::Store);
        const auto& m = kernel->stats().alloc_fallbacks_by_size;
        return m.count(65536) != 0 ? m.at(65536) : 0;
    };
    const std::uint64_t a = fallbacks(0.1, 1);
    // 1 - 0.9^4 = 34 % of 32 requests; every failure maps the page alone.
    EXPECT_GT(a, 3u);
    EXPECT_LT(a, 20u);
    EXPECT_EQ(fallbacks(0.1, 1), a);
    EXPECT_EQ(fallbacks(0.0, 1), 0u);
    EXPECT_NE(fallbacks(0.1, 2) * 100 + fallbacks(0.1, 3), a * 101);  // other seeds, other draws
}

TEST_F(FoldPolicy, ExecFoliosForInstructionFetchFaults) {
    KernelConfig c = scripted();
    c.mthp_orders = {};
    c.exec_folio_order = 4;  // 64K
    build(c);
    ASSERT_EQ(mmap_anon(kBase, 2u << 20, kProtRead | kProtExec), 0);
    EXPECT_STREQ(fault(kBlock + 3 * kPage, arch::Access::Ifetch), "anon_folio_large");
    EXPECT_TRUE(block_folded());
    EXPECT_EQ(kernel->stats().folios_by_size.at(65536), 1u);
    // A data store still takes the mTHP sizes (none here): order 0.
    ASSERT_EQ(mmap_anon(kBase + (4u << 20), 2u << 20), 0);
    EXPECT_STREQ(fault(kBase + (4u << 20), arch::Access::Store), "anon_folio_order0");
}

TEST_F(FoldPolicy, ExecFoliosForExecutableFileMappings) {
    KernelConfig c = scripted();
    c.exec_folio_order = 4;
    c.fault_around_bytes = 4096;  // no fault-around: the faulting page alone is mapped
    build(c);
    Syscall m;
    m.op = SyscallOp::Mmap;
    m.addr = kBase;
    m.len = 2u << 20;
    m.prot = kProtRead | kProtExec;
    m.kind = MapKind::File;
    m.file = 1;
    m.file_folio = 4096;
    ASSERT_EQ(sys(m), 0);
    fault(kBlock + 2 * kPage, arch::Access::Ifetch);
    EXPECT_EQ(kernel->stats().folios_by_size.at(65536), 1u);
    // The same file mapped without exec reads 4K folios.
    m.addr = kBase + (4u << 20);
    m.prot = kProtRead;
    m.file_offset = 8u << 20;
    ASSERT_EQ(sys(m), 0);
    fault(kBase + (4u << 20), arch::Access::Load);
    EXPECT_EQ(kernel->stats().folios_by_size.at(4096), 1u);
}

}  // namespace
}  // namespace mmusim::kernel::testing
