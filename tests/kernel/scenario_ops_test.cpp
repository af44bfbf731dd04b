// Scenarios of spec/kernel.md §8 driven through the mm operations (mprotect, munmap,
// madvise, fork, userfaultfd, reclaim, kernel mappings) and the fault paths they lead to,
// with the counts the specification gives (4K pages, N = 16, FEAT_TLBIRANGE, no KPTI, no
// BBML2 unless stated). Reads (R) also include the reads core mm makes around each arch
// operation, as mm/memory.c and mm/mprotect.c do; the comments say where they come from.
#include "tests/kernel/scenario_fixture.h"

#include "models/kernel/pte.h"

namespace mmusim::kernel::testing {
namespace {

using namespace arch::bits;
using arch::TlbiOp;
constexpr std::uint64_t kBase = KernelScenario::kScriptBase;
constexpr std::uint64_t kPage = 4096;
constexpr std::uint64_t kBlock = kBase;  // the folded block under test
constexpr unsigned kRW = kProtRead | kProtWrite;

TEST_F(KernelScenario, Scenario02_Mthp32kFaultsFillingOneBlockNeverFold) {
    KernelConfig c = scripted();
    c.mthp_orders = {3};
    build(c);
    ASSERT_EQ(mmap_anon(kBase, 2u << 20), 0);
    EXPECT_STREQ(fault(kBlock, arch::Access::Store), "anon_folio_large");
    mark();
    EXPECT_STREQ(fault(kBlock + 8 * kPage, arch::Access::Store), "anon_folio_large");
    Delta d = delta();
    EXPECT_EQ(d.W, 8u);  // set_ptes(8): no fold attempt
    EXPECT_EQ(d.fold_attempts, 0u);
    EXPECT_EQ(d.blocks_cont, 0u);
    for (unsigned i = 0; i < 16; ++i) EXPECT_FALSE(arch::desc_cont(pte(kBlock + i * kPage))) << i;
    // Even a set_pte at entry 15 fails the folio coverage test, at no PTE read.
    const std::uint64_t p15 = pte_pa(kBlock + 15 * kPage);
    const arch::Desc e15 = pte(kBlock + 15 * kPage);
    mark();
    kernel->pgtable().set_pte_at(kernel->mm(), kBlock + 15 * kPage, p15, e15);
    d = delta();
    // The cheap pre-check passes only when the PFN is also the last of an aligned group.
    EXPECT_EQ(d.fold_attempts, arch::desc_pfn(e15, 12) % 16 == 15 ? 1u : 0u);
    EXPECT_EQ(d.converts, 0u);
    EXPECT_EQ(d.R, 1u);  // the wrapper's read of the old entry only
    EXPECT_EQ(d.W, 1u);
}

TEST_F(KernelScenario, Scenario05_VmaTooSmallOrMisalignedFor64k) {
    build(scripted());
    ASSERT_EQ(mmap_anon(kBase + kPage, 64 * 1024), 0);            // misaligned by one page
    ASSERT_EQ(mmap_anon(kBase + (1u << 20), 32 * 1024), 0);        // aligned, too small
    EXPECT_STREQ(fault(kBase + kPage, arch::Access::Store), "anon_folio_order0");
    EXPECT_STREQ(fault(kBase + (1u << 20), arch::Access::Store), "anon_folio_order0");
    EXPECT_EQ(kernel->stats().blocks_mapped_cont, 0u);
}

TEST_F(KernelScenario, Scenario06_MprotectOnePageInFoldedBlock) {
    folded_block(scripted());
    mark();
    ASSERT_EQ(mprotect(kBlock + 5 * kPage, kPage, kProtRead), 0);
    const Delta d = delta();
    // nr = 1: 1 R + convert (16 X, TLBI-sync, 16 W) + 1 X; commit 1 W; no fold attempt
    // (entry 5 is not the last of the block); deferred: 1 VALE1IS.
    EXPECT_EQ(d.converts, 1u);
    EXPECT_EQ(d.unfolds, 1u);
    EXPECT_EQ(d.X, 17u);
    EXPECT_EQ(d.W, 17u);
    EXPECT_EQ(d.fold_attempts, 0u);
    EXPECT_EQ(d.tlbi_op(TlbiOp::RVALE1IS), 1u);  // the convert
    EXPECT_EQ(d.tlbi_op(TlbiOp::VALE1IS), 1u);   // tlb_finish_mmu
    EXPECT_EQ(d.tlbi, 2u);
    EXPECT_EQ(d.dsb_ishst, 2u);
    EXPECT_EQ(d.dsb_ish, 2u);
    EXPECT_EQ(d.isb, 0u);
    // Reads: ptep_get of the target (1 + gather: entry 0 dirty, re-read young = 2), the
    // unfold check (1), the set_ptes wrapper (1).
    EXPECT_EQ(d.R, 5u);
    EXPECT_TRUE(block_unfolded());
    EXPECT_TRUE(arch::desc_rdonly(pte(kBlock + 5 * kPage)) && !arch::desc_write(pte(kBlock + 5 * kPage)));
}

TEST_F(KernelScenario, Scenario06_AtTheLastEntryTheFoldAttemptFailsOnProt) {
    folded_block(scripted());
    mark();
    ASSERT_EQ(mprotect(kBlock + 15 * kPage, kPage, kProtRead), 0);
    const Delta d = delta();
    EXPECT_EQ(d.converts, 1u);
    EXPECT_EQ(d.fold_attempts, 1u);
    EXPECT_EQ(d.folds, 0u);
    EXPECT_TRUE(block_unfolded());
}

TEST_F(KernelScenario, Scenario07_UndoAtTheLastEntryRefolds) {
    folded_block(scripted());
    ASSERT_EQ(mprotect(kBlock + 15 * kPage, kPage, kProtRead), 0);
    mark();
    ASSERT_EQ(mprotect(kBlock + 15 * kPage, kPage, kRW), 0);
    const Delta d = delta();
    // 1 X + 1 W + 16 R (fold comparison) + convert (fold): the second convert.
    EXPECT_EQ(d.converts, 1u);
    EXPECT_EQ(d.folds, 1u);
    EXPECT_EQ(d.X, 1u + 16u);
    EXPECT_EQ(d.W, 1u + 16u);
    EXPECT_TRUE(block_folded());
}

TEST_F(KernelScenario, Scenario07_UndoElsewhereNeverRefolds) {
    folded_block(scripted());
    ASSERT_EQ(mprotect(kBlock + 5 * kPage, kPage, kProtRead), 0);
    mark();
    ASSERT_EQ(mprotect(kBlock + 5 * kPage, kPage, kRW), 0);
    const Delta d = delta();
    EXPECT_EQ(d.converts, 0u);
    EXPECT_EQ(d.fold_attempts, 0u);
    EXPECT_EQ(d.X, 1u);
    EXPECT_EQ(d.W, 1u);
    EXPECT_TRUE(block_unfolded());
}

TEST_F(KernelScenario, Scenario08_MprotectWholeFoldedBlockBatched617) {
    folded_block(scripted());
    mark();
    ASSERT_EQ(mprotect(kBlock, 16 * kPage, kProtRead), 0);
    const Delta d = delta();
    EXPECT_EQ(d.X, 16u);
    EXPECT_EQ(d.W, 16u);
    EXPECT_EQ(d.converts, 0u);
    EXPECT_EQ(d.blocks_cont, 1u);  // CONT re-applied by set_ptes(16)
    EXPECT_EQ(d.tlbi_op(TlbiOp::RVALE1IS), 1u);  // deferred, one range op
    EXPECT_EQ(d.tlbi, 1u);
    EXPECT_TRUE(block_folded());
}

TEST_F(KernelScenario, Scenario08_MprotectWholeFoldedBlockPerEntry616) {
    folded_block(scripted("6.16"));
    mark();
    ASSERT_EQ(mprotect(kBlock, 16 * kPage, kProtRead), 0);
    const Delta d = delta();
    // Unfold at the first entry, 16 x (X + W), fold at entry 15: two converts.
    EXPECT_EQ(d.converts, 2u);
    EXPECT_EQ(d.unfolds, 1u);
    EXPECT_EQ(d.folds, 1u);
    EXPECT_EQ(d.X, 16u + 32u);
    EXPECT_EQ(d.W, 16u + 32u);
    EXPECT_EQ(d.tlbi_op(TlbiOp::RVALE1IS), 3u);  // two converts and the deferred flush
    EXPECT_TRUE(block_folded());
}

TEST_F(KernelScenario, Scenario09_MprotectMidBlockOver128kFolio) {
    KernelConfig c = scripted();
    c.mthp_orders = {5};
    build(c);
    ASSERT_EQ(mmap_anon(kBase, 2u << 20), 0);
    ASSERT_STREQ(fault(kBlock, arch::Access::Store), "anon_folio_large");
    ASSERT_EQ(kernel->stats().blocks_mapped_cont, 2u);
    mark();
    ASSERT_EQ(mprotect(kBlock + 8 * kPage, 16 * kPage, kProtRead), 0);
    const Delta d = delta();
    // One batch of 16, partial at both ends: both blocks unfolded, then 16 X + 16 W.
    EXPECT_EQ(d.converts, 2u);
    EXPECT_EQ(d.X, 32u + 16u);
    EXPECT_EQ(d.W, 32u + 16u);
    EXPECT_EQ(d.blocks_cont, 0u);
}

TEST_F(KernelScenario, Scenario10_DontneedHalfABlock) {
    folded_block(scripted());
    mark();
    ASSERT_EQ(madvise(kBlock + 8 * kPage, 8 * kPage, Advice::DontNeed), 0);
    const Delta d = delta();
    EXPECT_EQ(d.converts, 1u);
    EXPECT_EQ(d.X, 16u + 8u);
    EXPECT_EQ(d.W, 16u);
    EXPECT_EQ(d.tlbi_op(TlbiOp::RVALE1IS), 2u);  // the convert, then 8 gathered pages
    for (unsigned i = 0; i < 8; ++i) {
        EXPECT_TRUE(arch::desc_valid(pte(kBlock + i * kPage)) && !arch::desc_cont(pte(kBlock + i * kPage)));
        EXPECT_EQ(pte(kBlock + (8 + i) * kPage), 0u);
    }
}

TEST_F(KernelScenario, Scenario11_MunmapExactlyOneFoldedBlock) {
    folded_block(scripted());
    mark();
    ASSERT_EQ(range_call(SyscallOp::Munmap, kBlock, 16 * kPage), 0);
    const Delta d = delta();
    EXPECT_EQ(d.X, 16u);
    EXPECT_EQ(d.converts, 0u);
    // The rest of the VMA keeps the PTE table: one last-level flush.
    EXPECT_EQ(d.tlbi_op(TlbiOp::RVALE1IS), 1u);
    EXPECT_EQ(d.tlbi, 1u);
}

TEST_F(KernelScenario, Scenario11_MunmapFreeingThePteTableFlushesAllLevels) {
    build(scripted());
    ASSERT_EQ(mmap_anon(kBase, 16 * kPage), 0);
    ASSERT_STREQ(fault(kBlock, arch::Access::Store), "anon_folio_large");
    const std::uint64_t freed = kernel->stats().tables_freed;
    mark();
    ASSERT_EQ(range_call(SyscallOp::Munmap, kBlock, 16 * kPage), 0);
    const Delta d = delta();
    EXPECT_EQ(d.X, 16u);
    EXPECT_EQ(kernel->stats().tables_freed, freed + 1);
    EXPECT_EQ(d.tlbi_op(TlbiOp::RVALE1IS), 1u);  // tlb_end_vma: the leaf entries
    EXPECT_EQ(d.tlbi_op(TlbiOp::RVAE1IS), 1u);   // tlb_finish_mmu: the freed table, all levels
}

TEST_F(KernelScenario, Scenario12_MunmapOnePageOfFoldedBlock) {
    folded_block(scripted());
    mark();
    ASSERT_EQ(range_call(SyscallOp::Munmap, kBlock + 4 * kPage, kPage), 0);
    const Delta d = delta();
    EXPECT_EQ(d.converts, 1u);
    EXPECT_EQ(d.X, 16u + 1u);
    EXPECT_EQ(d.W, 16u);
    EXPECT_EQ(pte(kBlock + 4 * kPage), 0u);
}

TEST_F(KernelScenario, Scenario13_ForkWithWholeFoldedBlocks) {
    folded_block(scripted());
    mark();
    ASSERT_EQ(fork_child(), 0);
    const Delta d = delta();
    EXPECT_EQ(d.C, 16u);  // parent: 16 x (R + C) in place
    EXPECT_EQ(d.W, 16u);  // child: set_ptes(16)
    EXPECT_EQ(d.blocks_cont, 1u);
    EXPECT_EQ(d.converts, 0u);
    EXPECT_EQ(d.tlbi_op(TlbiOp::ASIDE1IS), 1u);
    EXPECT_EQ(d.tlbi, 1u);
    EXPECT_TRUE(block_folded());
    for (unsigned i = 0; i < 16; ++i) EXPECT_FALSE(arch::desc_write(pte(kBlock + i * kPage))) << i;
    // The child's copy: folded, read-only, old.
    const Mm& child = kernel->mm(1);
    const std::uint64_t child_pmd = kernel->tables().pmd_lookup(child, kBlock);
    ASSERT_NE(child_pmd, 0u);
    const arch::Desc cp = mem->peek(arch::desc_oa(mem->peek(child_pmd), 12) + 8 * 3);
    EXPECT_TRUE(arch::desc_valid_cont(cp));
    EXPECT_FALSE(arch::desc_write(cp));
    EXPECT_FALSE(arch::desc_young(cp));
}

TEST_F(KernelScenario, Scenario14_ForkWithBlockStraddlingVmaBoundary) {
    folded_block(scripted());
    ASSERT_EQ(madvise(kBlock + 8 * kPage, 8 * kPage, Advice::DontFork), 0);
    EXPECT_TRUE(block_folded());  // a VMA split alone touches no PTE
    mark();
    ASSERT_EQ(fork_child(), 0);
    const Delta d = delta();
    EXPECT_EQ(d.converts, 1u);  // the copied half is a partial batch
    EXPECT_EQ(d.blocks_cont, 0u);
    EXPECT_TRUE(block_unfolded());
}

TEST_F(KernelScenario, Scenario15_CowWriteInParentWhileChildShares) {
    folded_block(scripted());
    ASSERT_EQ(fork_child(), 0);
    mark();
    EXPECT_STREQ(fault(kBlock + 3 * kPage, arch::Access::Store, arch::FaultKind::Permission), "wp_copy");
    const Delta d = delta();
    EXPECT_EQ(d.converts, 1u);
    EXPECT_EQ(d.X, 16u + 1u);
    EXPECT_EQ(d.W, 16u + 1u);
    EXPECT_EQ(d.tlbi_op(TlbiOp::RVALE1IS), 1u);  // the unfold's TLBI-sync
    EXPECT_EQ(d.tlbi_op(TlbiOp::VALE1IS), 1u);   // flush_tlb_page
    EXPECT_EQ(d.dsb_ish, 2u);
    EXPECT_TRUE(block_unfolded());
}

TEST_F(KernelScenario, Scenario15_WithBbml2OnlyThePageFlushRemains) {
    KernelConfig c = scripted();
    c.bbml2_noabort = true;
    folded_block(c);
    ASSERT_EQ(fork_child(), 0);
    mark();
    EXPECT_STREQ(fault(kBlock + 3 * kPage, arch::Access::Store, arch::FaultKind::Permission), "wp_copy");
    const Delta d = delta();
    EXPECT_EQ(d.converts, 1u);
    EXPECT_EQ(d.tlbi_op(TlbiOp::VALE1IS), 1u);
    EXPECT_EQ(d.tlbi, 1u);
    EXPECT_EQ(d.dsb_ish, 1u);
}

class Scenario16 : public KernelScenario, public ::testing::WithParamInterface<const char*> {};

TEST_P(Scenario16, WriteAfterChildExitedReusesWithoutRefold) {
    const std::string version = GetParam();
    folded_block(scripted(version.c_str()));
    ASSERT_EQ(fork_child(), 0);
    ASSERT_EQ(exit_process(1), 0);
    const bool local = version == "6.19";
    mark();
    EXPECT_STREQ(fault(kBlock + 3 * kPage, arch::Access::Store, arch::FaultKind::Permission), "wp_reuse");
    Delta d = delta();
    EXPECT_EQ(d.converts, 1u);
    EXPECT_EQ(d.C, 1u);
    EXPECT_EQ(d.tlbi_op(TlbiOp::RVALE1IS), 1u);  // the unfold
    EXPECT_EQ(d.tlbi_op(local ? TlbiOp::VALE1 : TlbiOp::VALE1IS), 1u);
    EXPECT_EQ(d.tlbi, 2u);
    EXPECT_TRUE(arch::desc_write(pte(kBlock + 3 * kPage)));
    // Another entry of the folio: its own fault, 1 C + page TLBI, no refold.
    mark();
    EXPECT_STREQ(fault(kBlock + 4 * kPage, arch::Access::Store, arch::FaultKind::Permission), "wp_reuse");
    d = delta();
    EXPECT_EQ(d.converts, 0u);
    EXPECT_EQ(d.C, 1u);
    EXPECT_EQ(d.tlbi, 1u);
    EXPECT_EQ(d.tlbi_op(local ? TlbiOp::VALE1 : TlbiOp::VALE1IS), 1u);
    EXPECT_EQ(local ? d.dsb_nsh : d.dsb_ish, 1u);
    EXPECT_TRUE(block_unfolded());
}

INSTANTIATE_TEST_SUITE_P(KernelScenario, Scenario16, ::testing::Values("6.17", "6.19"),
                         [](const ::testing::TestParamInfo<const char*>& i) {
                             return std::string("v") + (std::string(i.param) == "6.19" ? "619" : "617");
                         });

TEST_F(KernelScenario, Scenario17_AgingAFoldedYoungBlockPerEntry) {
    folded_block(scripted());
    mark();
    ASSERT_EQ(range_call(SyscallOp::Reclaim, kBlock, 16 * kPage), 0);
    const Delta d = delta();
    EXPECT_EQ(d.C, 256u);  // 16 calls x 16 C
    EXPECT_EQ(d.tlbi_op(TlbiOp::RVALE1IS), 1u);  // only the first call found young entries
    EXPECT_EQ(d.tlbi, 1u);
    EXPECT_EQ(d.dsb_ishst, 1u);
    EXPECT_EQ(d.dsb_ish, 0u);  // nosync
    EXPECT_EQ(d.converts, 0u);
    EXPECT_TRUE(block_folded());
    for (unsigned i = 0; i < 16; ++i) EXPECT_FALSE(arch::desc_young(pte(kBlock + i * kPage)));
}

TEST_F(KernelScenario, Scenario17_AgingAFoldedYoungBlockBatched2026) {
    folded_block(scripted("current"));
    mark();
    ASSERT_EQ(range_call(SyscallOp::Reclaim, kBlock, 16 * kPage), 0);
    const Delta d = delta();
    EXPECT_EQ(d.C, 16u);
    EXPECT_EQ(d.tlbi_op(TlbiOp::RVALE1IS), 1u);
    EXPECT_EQ(d.dsb_ish, 0u);
}

// folio_referenced finds PROT_NONE entries too (check_pte tests pte_present, which on arm64
// is valid or present-invalid) and clears their access flags; the aging used to skip every
// entry without the valid bit. linux-check showed it against Linux 6.12 (MADV_COLD, which
// tests pte_present as well).
TEST_F(KernelScenario, AgingClearsTheAccessFlagsOfProtNoneEntries) {
    for (const char* version : {"6.12", "current"}) {
        SCOPED_TRACE(version);
        folded_block(scripted(version));
        ASSERT_EQ(mprotect(kBlock, 16 * kPage, 0), 0);  // PROT_NONE
        for (unsigned i = 0; i < 16; ++i) {
            const arch::Desc e = pte(kBlock + i * kPage);
            ASSERT_TRUE(pte_protnone(e)) << i;
            ASSERT_TRUE(arch::desc_young(e)) << i;
        }
        const std::uint64_t aged = kernel->stats().reclaim_aged;
        ASSERT_EQ(range_call(SyscallOp::Reclaim, kBlock, 16 * kPage), 0);
        EXPECT_GT(kernel->stats().reclaim_aged, aged);
        for (unsigned i = 0; i < 16; ++i) {
            const arch::Desc e = pte(kBlock + i * kPage);
            EXPECT_TRUE(pte_protnone(e)) << i;
            EXPECT_FALSE(arch::desc_young(e)) << i;
        }
    }
}

TEST_F(KernelScenario, Scenario18_SoftwareAccessFlagFaultOnOldFoldedBlock) {
    for (const char* version : {"6.16", "6.17"}) {
        SCOPED_TRACE(version);
        const bool early_exit = std::string(version) == "6.17";
        KernelConfig c = scripted(version);
        c.hafdbs = false;
        folded_block(c);
        ASSERT_EQ(range_call(SyscallOp::Reclaim, kBlock, 16 * kPage), 0);  // the block is old now
        // A block read: 16 R; from v6.17 the early-exit loop re-reads the first dirty entry
        // (contpte_ptep_get / contpte_ptep_get_lockless restart their inner loop at it), so
        // this dirty, old block costs 17.
        const unsigned block = early_exit ? 17u : 16u;
        // The lockless read of the target: 2 + the block (the arm64 wrapper's read, the retry
        // loop's re-read of the target, then the block).
        mark();
        (void)kernel->pgtable().ptep_get_lockless(pte_pa(kBlock + 6 * kPage));
        EXPECT_EQ(delta().R, 2u + block);
        mark();
        EXPECT_STREQ(fault(kBlock + 6 * kPage, arch::Access::Load, arch::FaultKind::AccessFlag), "access_flag");
        const Delta d = delta();
        // handle_pte_fault: ptep_get_lockless (2 + block), the pte_same re-check under the lock
        // with ptep_get (1 + block); ptep_set_access_flags: the wrapper's __ptep_get (1), the
        // no-op test's ptep_get (1 + block), then one R and one C per entry.
        EXPECT_EQ(d.R, (2u + block) + (1u + block) + 1u + (1u + block) + 16u);
        EXPECT_EQ(d.C, 16u);
        EXPECT_EQ(d.tlbi, 0u);
        EXPECT_EQ(d.converts, 0u);
        EXPECT_TRUE(block_folded());
        for (unsigned i = 0; i < 16; ++i) EXPECT_TRUE(arch::desc_young(pte(kBlock + i * kPage))) << i;
    }
}

class Scenario18Dirty : public KernelScenario, public ::testing::WithParamInterface<const char*> {};

TEST_P(Scenario18Dirty, DirtyFixupKeepsTheBlockAndFlushesIt) {
    const std::string version = GetParam();
    KernelConfig c = scripted(version.c_str());
    c.hafdbs = false;
    folded_block(c);
    // MADV_FREE leaves the block writable but clean and old, without unfolding it.
    ASSERT_EQ(madvise(kBlock, 16 * kPage, Advice::Free), 0);
    ASSERT_TRUE(block_folded());
    mark();
    EXPECT_STREQ(fault(kBlock + 6 * kPage, arch::Access::Store, arch::FaultKind::Permission), "dirty_fixup");
    const Delta d = delta();
    EXPECT_EQ(d.C, 16u);
    EXPECT_EQ(d.converts, 0u);
    if (version == "6.19") {
        EXPECT_EQ(d.tlbi_op(TlbiOp::RVALE1), 1u);  // local block flush
        EXPECT_EQ(d.dsb_nsh, 1u);
    } else {
        EXPECT_EQ(d.tlbi_op(TlbiOp::RVALE1IS), 1u);
        EXPECT_EQ(d.dsb_ish, 1u);
    }
    EXPECT_EQ(d.tlbi, 1u);
    EXPECT_TRUE(block_folded());
}

INSTANTIATE_TEST_SUITE_P(KernelScenario, Scenario18Dirty, ::testing::Values("6.17", "6.19"),
                         [](const ::testing::TestParamInfo<const char*>& i) {
                             return std::string("v") + (std::string(i.param) == "6.19" ? "619" : "617");
                         });

TEST_F(KernelScenario, Scenario19_LocklessReadOfAZeroedTargetReturnsNone) {
    // The single-core half of scenario 19: a reader that meets the target already cleared
    // by an in-flight convert sees none (the fault path then re-checks under the lock).
    // The retry half needs a second core writing concurrently (multi-core model).
    folded_block(scripted());
    const std::uint64_t p5 = pte_pa(kBlock + 5 * kPage);
    (void)kernel->pgtable().__ptep_get_and_clear(p5);
    ends_mid_operation = true;  // the convert's break phase, never finished
    mark();
    EXPECT_EQ(kernel->pgtable().ptep_get_lockless(p5), 0u);
    EXPECT_EQ(delta().R, 1u);
}

// The retry half of scenario 19, with two cores. Core 0 takes the NUMA hinting fault that
// rebuilds a folded block and refolds it (a convert); core 1 faults on the block's first entry
// while the make phase is half-way: its lockless read finds that entry folded while the later
// ones are still clear, reads again at each step of core 0 until the block is whole, then
// waits for core 0 to leave the kernel and finds nothing to do.
TEST_F(KernelScenario, Scenario19_LocklessReadRetriesUntilTheConvertCompletes) {
    folded_block(scripted());
    SmpState smp(2);
    kernel->set_smp(&smp);
    Mm& mm = kernel->mm();
    {
        MmuGather tlb(kernel->tlb_flush(), mm, false, kPage, 2u << 20);
        (void)kernel->ops().change_protection(tlb, mm, *mm.find_vma(kBlock), kBlock, kBlock + 16 * kPage, kCpProtNuma);
        tlb.tlb_finish_mmu();
    }
    mark();
    const auto call = [&](unsigned core, std::uint64_t va, arch::FaultKind kind) {
        KernelCallExt ext;
        ext.kind = KernelCallExt::Kind::PageFault;
        ext.core = core;
        ext.va = va;
        ext.access = arch::Access::Load;
        ext.fault = kind;
        tlm::tlm_generic_payload trans;
        trans.set_extension(&ext);
        sc_core::sc_time delay = sc_core::SC_ZERO_TIME;
        dummy_core->to_kernel->b_transport(trans, delay);
        trans.clear_extension(&ext);
        EXPECT_TRUE(trans.is_response_ok()) << ext.error;
    };
    bool reader_saw_half_block = false;
    sc_core::sc_spawn([&] { call(0, kBlock + 2 * kPage, arch::FaultKind::Translation); });
    sc_core::sc_spawn([&] {
        // Wait (polling the tables, as a spinning core would) for the make phase to be
        // half-way: the first entry folded, the last still clear.
        while (!(arch::desc_valid_cont(pte(kBlock)) && pte(kBlock + 15 * kPage) == 0)) sc_core::wait(1, sc_core::SC_NS);
        reader_saw_half_block = true;
        call(1, kBlock, arch::FaultKind::AccessFlag);
    });
    sc_core::sc_start();
    ASSERT_TRUE(reader_saw_half_block);
    const KernelStats& k = kernel->stats();
    EXPECT_EQ(k.lock_waits - before.lock_waits, 1u);
    // The reader first looks right after the first store of the make phase and reads again
    // after each further store: 15 inconsistent reads, then the whole block.
    EXPECT_EQ(k.lockless_retries - before.lockless_retries, 15u);
    EXPECT_EQ(k.lockless_none - before.lockless_none, 0u);
    EXPECT_EQ(k.faults_by_handler.at("numa_hinting"), 1u);
    EXPECT_EQ(k.faults_by_handler.at("spurious"), 1u);
    EXPECT_EQ(delta().folds, 1u);
    EXPECT_TRUE(block_folded());
    kernel->set_smp(nullptr);
}

TEST_F(KernelScenario, Scenario20_LazyNestingWorkedExample) {
    for (const LazyMmuVariant v : {LazyMmuVariant::B, LazyMmuVariant::C, LazyMmuVariant::D}) {
        KernelConfig c = scripted();
        c.lazy_mmu = v;
        build(c);
        LazyMmu& lazy = kernel->lazy();
        const std::uint64_t emitted0 = lazy.stats().emitted;
        const LazyMmu::State outer = lazy.enable();
        lazy.queue_pte_barriers();  // k1
        const LazyMmu::State inner = lazy.enable();
        lazy.queue_pte_barriers();  // k2
        lazy.disable(inner);
        for (int i = 0; i < 3; ++i) lazy.queue_pte_barriers();  // k3a, k3b, k3c
        lazy.disable(outer);
        EXPECT_EQ(lazy.stats().emitted - emitted0, v == LazyMmuVariant::B ? 4u : 2u) << lazy_mmu_variant_name(v);
    }
}

// Variant D's pause leaves the mode at any depth (emitting what is owed); requests while paused
// are emitted at once, enables are ignored; resume comes back at the same depth.
TEST_F(KernelScenario, Scenario20_VariantDPauseAndResume) {
    KernelConfig c = scripted();
    c.lazy_mmu = LazyMmuVariant::D;
    build(c);
    LazyMmu& lazy = kernel->lazy();
    const std::uint64_t emitted0 = lazy.stats().emitted;
    const auto emitted = [&] { return lazy.stats().emitted - emitted0; };
    const LazyMmu::State outer = lazy.enable();
    const LazyMmu::State inner = lazy.enable();
    lazy.queue_pte_barriers();
    EXPECT_EQ(emitted(), 0u);
    lazy.pause();
    EXPECT_EQ(emitted(), 1u);  // what was owed
    EXPECT_FALSE(lazy.active());
    lazy.queue_pte_barriers();
    EXPECT_EQ(emitted(), 2u);  // not batched while paused
    EXPECT_EQ(lazy.enable(), LazyMmu::State::Ignored);
    lazy.resume();
    EXPECT_TRUE(lazy.active());
    lazy.queue_pte_barriers();
    lazy.queue_pte_barriers();
    EXPECT_EQ(emitted(), 2u);
    lazy.disable(inner);
    EXPECT_EQ(emitted(), 3u);  // the arch flush of the inner leave
    EXPECT_TRUE(lazy.active());
    lazy.disable(outer);
    EXPECT_FALSE(lazy.active());
    EXPECT_EQ(emitted(), 3u);
}

TEST_F(KernelScenario, Scenario20_VmallocUnderDebugPagealloc) {
    const auto pairs = [&](LazyMmuVariant v, bool debug) {
        KernelConfig c = scripted();
        c.lazy_mmu = v;
        c.debug_pagealloc = debug;
        build(c);
        kernel->kernel_mappings().vmalloc_cycle(4, false);  // tables of both areas exist now
        const std::uint64_t emitted0 = kernel->lazy_stats().emitted;
        kernel->kernel_mappings().vmalloc_cycle(4, false);
        return kernel->lazy_stats().emitted - emitted0;
    };
    EXPECT_EQ(pairs(LazyMmuVariant::D, false), 1u);  // one pair at the section's end
    EXPECT_EQ(pairs(LazyMmuVariant::B, true), 8u);   // the inner leave ends the mode: 2 per page
    EXPECT_EQ(pairs(LazyMmuVariant::C, true), 5u);   // 1 per inner leave + 1 at the outer leave
    EXPECT_EQ(pairs(LazyMmuVariant::D, true), 5u);
    EXPECT_EQ(pairs(LazyMmuVariant::None, false), 4u);  // before v6.16: every store
}

// Scenario 20 in a zap. The pages a zap unmaps are freed after the gather's flush, outside
// zap_pte_range's lazy section (and a free stores invalid linear-map entries, which ask for no
// barrier); what nests is the gather's batch page, allocated by tlb_next_batch inside the
// section from the 7th gathered page on. The section holds no other kernel-PTE store, so
// every rule emits the same single pair for the munmap.
TEST_F(KernelScenario, Scenario20_ZapNestsThroughItsGatherBatchPage) {
    for (const LazyMmuVariant v : {LazyMmuVariant::None, LazyMmuVariant::B, LazyMmuVariant::C, LazyMmuVariant::D}) {
        KernelConfig c = scripted();
        c.mthp_orders.clear();
        c.lazy_mmu = v;
        c.debug_pagealloc = true;
        build(c);
        ASSERT_EQ(mmap_anon(kScriptBase, 64 * 4096), 0);
        for (std::uint64_t i = 0; i < 64; ++i) fault(kScriptBase + i * 4096, arch::Access::Store);
        const LazyMmuStats before_lazy = kernel->lazy_stats();
        ASSERT_EQ(range_call(SyscallOp::Munmap, kScriptBase, 64 * 4096), 0);
        const LazyMmuStats& after = kernel->lazy_stats();
        const char* name = lazy_mmu_variant_name(v);
        EXPECT_EQ(after.requests - before_lazy.requests, 1u) << name;
        EXPECT_EQ(after.emitted - before_lazy.emitted, 1u) << name;
        EXPECT_EQ(after.nested_sections - before_lazy.nested_sections, v == LazyMmuVariant::None ? 0u : 1u) << name;
        EXPECT_EQ(kernel->stats().gather_batch_pages, 1u) << name;
    }
}

TEST_F(KernelScenario, Scenario21_InterruptContextNeverBatches) {
    build(scripted());
    LazyMmu& lazy = kernel->lazy();
    const LazyMmu::State s = lazy.enable();
    lazy.queue_pte_barriers();
    EXPECT_TRUE(lazy.pending());
    const std::uint64_t emitted0 = lazy.stats().emitted;
    lazy.set_in_interrupt(true);
    lazy.queue_pte_barriers();
    EXPECT_EQ(lazy.stats().emitted, emitted0 + 1);  // emitted at once
    lazy.set_in_interrupt(false);
    EXPECT_TRUE(lazy.pending());  // the task's flag is untouched
    lazy.disable(s);
    EXPECT_EQ(lazy.stats().emitted, emitted0 + 2);
}

TEST_F(KernelScenario, Scenario22_PreemptionWithAPendingBarrier) {
    build(scripted());
    LazyMmu& lazy = kernel->lazy();
    const LazyMmu::State s = lazy.enable();
    lazy.queue_pte_barriers();
    mark();
    lazy.context_switch();
    Delta d = delta();
    EXPECT_EQ(d.dsb_ish, 1u);
    EXPECT_EQ(d.isb, 0u);
    EXPECT_TRUE(lazy.pending());
    mark();
    lazy.disable(s);
    d = delta();
    EXPECT_EQ(d.dsb_ishst, 1u);
    EXPECT_EQ(d.isb, 1u);
}

TEST_F(KernelScenario, Scenario23_KernelMmNeverGetsAutomaticCont) {
    build(scripted());
    Mm& init = kernel->kernel_mappings().init_mm();
    const std::uint64_t va = KernelMappings::kVmallocBase + (4u << 20);
    const std::uint64_t table = kernel->tables().pte_alloc(kernel->tables().pmd_alloc(init, va));
    const std::uint64_t ptep = kernel->tables().pte_offset(table, va);
    const Folio f = *kernel->folios().alloc(4);
    const arch::Desc prot = kValid | kType | kShInner | kAf | kDbm | kSwDirty | kPxn | kUxn;
    mark();
    kernel->pgtable().set_ptes(init, va, ptep, arch::desc_with_pfn(prot, f.head_pfn, 12), 16);
    EXPECT_EQ(delta().blocks_cont, 0u);
    for (unsigned i = 0; i < 16; ++i) EXPECT_FALSE(arch::desc_cont(mem->peek(ptep + 8 * i)));
    // An entry that does carry CONT (set by the kernel's own mapping code): no unfold.
    const std::uint64_t p3 = ptep + 24;
    kernel->pgtable().__set_pte(p3, mem->peek(p3) | kCont);
    mark();
    (void)kernel->pgtable().ptep_get_and_clear(init, va + 3 * kPage, p3);
    EXPECT_EQ(delta().converts, 0u);
    kernel->pgtable().__set_pte(ptep + 32, mem->peek(ptep + 32) | kCont);
    kernel->pgtable().set_pte(ptep + 32, arch::desc_with_pfn(prot, f.head_pfn + 4, 12));
    EXPECT_EQ(kernel->stats().set_pte_on_cont_warnings, 1u);
}

TEST_F(KernelScenario, Scenario24_RemapPfnRange64kAligned) {
    build(scripted());
    Syscall m;
    m.op = SyscallOp::Mmap;
    m.kind = MapKind::Pfnmap;
    m.addr = kBase;
    m.len = 16 * kPage;
    mark();
    ASSERT_EQ(sys(m), 0);
    Delta d = delta();
    EXPECT_EQ(d.R, 16u);
    EXPECT_EQ(d.W, 16u);
    EXPECT_EQ(d.fold_attempts, 0u);
    EXPECT_EQ(d.converts, 0u);
    for (unsigned i = 0; i < 16; ++i) {
        EXPECT_TRUE(arch::desc_special(pte(kBase + i * kPage)));
        EXPECT_FALSE(arch::desc_cont(pte(kBase + i * kPage)));
    }
    mark();
    ASSERT_EQ(range_call(SyscallOp::Munmap, kBase, 16 * kPage), 0);
    d = delta();
    EXPECT_EQ(d.X, 16u);  // 16 individual get_and_clear
    EXPECT_EQ(d.R, 32u);  // zap's ptep_get + the unfold check, per entry
    EXPECT_EQ(d.tlbi_op(TlbiOp::RVALE1IS), 1u);  // 16 pages gathered
}

TEST_F(KernelScenario, Scenario25_UffdWpProtectWholeFoldedBlock) {
    folded_block(scripted());
    ASSERT_EQ(uffd_register_wp(kBase, 2u << 20), 0);
    mark();
    ASSERT_EQ(uffd_wp(kBlock, 16 * kPage), 0);
    Delta d = delta();
    EXPECT_EQ(d.X, 16u);
    EXPECT_EQ(d.W, 16u);
    EXPECT_EQ(d.converts, 0u);
    EXPECT_TRUE(block_folded());
    for (unsigned i = 0; i < 16; ++i) EXPECT_TRUE(pte_uffd_wp(pte(kBlock + i * kPage))) << i;
    // Unprotect of the whole block keeps CONT.
    mark();
    ASSERT_EQ(uffd_wp(kBlock, 16 * kPage, false), 0);
    EXPECT_EQ(delta().converts, 0u);
    EXPECT_TRUE(block_folded());
    // A partial protect unfolds first.
    mark();
    ASSERT_EQ(uffd_wp(kBlock, 8 * kPage), 0);
    EXPECT_EQ(delta().converts, 1u);
}

TEST_F(KernelScenario, Scenario26_UffdWpAsyncWriteFaultUnfolds) {
    folded_block(scripted());
    ASSERT_EQ(uffd_register_wp(kBase, 2u << 20, true), 0);
    ASSERT_EQ(uffd_wp(kBlock, 16 * kPage), 0);
    mark();
    EXPECT_STREQ(fault(kBlock + 3 * kPage, arch::Access::Store, arch::FaultKind::Permission), "wp_reuse");
    const Delta d = delta();
    EXPECT_EQ(d.converts, 1u);
    EXPECT_EQ(kernel->stats().uffd_wp_async_resolved, 1u);
    EXPECT_TRUE(block_unfolded());
    EXPECT_FALSE(pte_uffd_wp(pte(kBlock + 3 * kPage)));
    EXPECT_TRUE(pte_uffd_wp(pte(kBlock + 4 * kPage)));
}

TEST_F(KernelScenario, Scenario27_DontneedOnFileBackedUffdWpKeepsMarkers) {
    build(scripted());
    Syscall m;
    m.op = SyscallOp::Mmap;
    m.kind = MapKind::File;
    m.addr = kBase;
    m.len = 16 * kPage;
    m.prot = kProtRead;
    m.file = 7;
    ASSERT_EQ(sys(m), 0);
    for (unsigned i = 0; i < 4; ++i) fault(kBase + i * kPage, arch::Access::Load);
    ASSERT_EQ(uffd_register_wp(kBase, 16 * kPage), 0);
    ASSERT_EQ(uffd_wp(kBase, 16 * kPage), 0);
    const std::uint64_t markers = kernel->stats().uffd_markers_installed;  // none entries got markers too
    EXPECT_EQ(markers, 12u);
    ASSERT_EQ(madvise(kBase, 4 * kPage, Advice::DontNeed), 0);
    EXPECT_EQ(kernel->stats().uffd_markers_installed, markers + 4);
    for (unsigned i = 0; i < 16; ++i) EXPECT_TRUE(pte_marker_uffd_wp(pte(kBase + i * kPage))) << i;
    // A refault maps order 0 with the protection kept.
    EXPECT_STREQ(fault(kBase + kPage, arch::Access::Load), "file_page");
    EXPECT_TRUE(pte_uffd_wp(pte(kBase + kPage)));
    // munmap removes markers.
    ASSERT_EQ(range_call(SyscallOp::Munmap, kBase, 16 * kPage), 0);
    for (unsigned i = 0; i < 16; ++i) EXPECT_EQ(pte(kBase + i * kPage), 0u) << i;
}

TEST_F(KernelScenario, Scenario27_DontneedOnAnonymousLosesTheProtection) {
    folded_block(scripted());
    ASSERT_EQ(uffd_register_wp(kBase, 2u << 20), 0);
    ASSERT_EQ(uffd_wp(kBlock, 16 * kPage), 0);
    const std::uint64_t markers = kernel->stats().uffd_markers_installed;
    ASSERT_EQ(madvise(kBlock, 16 * kPage, Advice::DontNeed), 0);
    EXPECT_EQ(kernel->stats().uffd_markers_installed, markers);
    for (unsigned i = 0; i < 16; ++i) EXPECT_EQ(pte(kBlock + i * kPage), 0u);
}

TEST_F(KernelScenario, Scenario28_SetPtesCompletingABlockNeverFolds) {
    build(scripted());
    const arch::Desc e0 = half_batches_setup();
    mark();
    two_half_batches(e0);
    Delta d = delta();
    EXPECT_EQ(d.fold_attempts, 0u);
    EXPECT_EQ(d.blocks_cont, 0u);
    EXPECT_TRUE(block_unfolded());
    // Only a later one-entry store at entry 15 folds it.
    mark();
    kernel->pgtable().set_pte_at(kernel->mm(), kBlock + 15 * kPage, pte_pa(kBlock + 15 * kPage),
                                 arch::desc_with_pfn(e0, arch::desc_pfn(e0, 12) + 15, 12));
    d = delta();
    EXPECT_EQ(d.folds, 1u);
    EXPECT_TRUE(block_folded());
}

TEST_F(KernelScenario, Scenario29_NumaHintingOnFoldedBlock) {
    folded_block(scripted());
    Mm& mm = kernel->mm();
    mark();
    {
        MmuGather tlb(kernel->tlb_flush(), mm, false, kPage, 2u << 20);
        (void)kernel->ops().change_protection(tlb, mm, *mm.find_vma(kBlock), kBlock, kBlock + 16 * kPage, kCpProtNuma);
        tlb.tlb_finish_mmu();
    }
    Delta d = delta();
    EXPECT_EQ(d.X, 16u);
    EXPECT_EQ(d.W, 16u);
    EXPECT_EQ(d.converts, 0u);
    for (unsigned i = 0; i < 16; ++i) {
        const arch::Desc e = pte(kBlock + i * kPage);
        EXPECT_TRUE(pte_protnone(e) && arch::desc_cont(e)) << i;  // CONT on invalid entries
    }
    mark();
    EXPECT_STREQ(fault(kBlock + 2 * kPage, arch::Access::Load), "numa_hinting");
    d = delta();
    // 16 x (X + W) rebuilding ascending; the 16th store folds (16 R + convert).
    EXPECT_EQ(d.converts, 1u);
    EXPECT_EQ(d.folds, 1u);
    EXPECT_EQ(d.X, 16u + 16u);
    EXPECT_EQ(d.W, 16u + 16u);
    EXPECT_TRUE(block_folded());
}

TEST_F(KernelScenario, Scenario30_16kGranuleConvertsCover128Entries) {
    KernelConfig c = scripted();
    c.granule = arch::Granule::K16;
    c.mthp_orders = {7};  // 2M folios = one block of 128 entries
    build(c);
    constexpr std::uint64_t kPage16 = 16384;
    const std::uint64_t base = 0x800000000;  // 32M aligned
    ASSERT_EQ(mmap_anon(base, 32u << 20), 0);
    ASSERT_STREQ(fault(base, arch::Access::Store), "anon_folio_large");
    mark();
    ASSERT_EQ(mprotect(base + 3 * kPage16, kPage16, kProtRead), 0);
    const Delta d = delta();
    EXPECT_EQ(d.converts, 1u);
    EXPECT_EQ(d.X, 128u + 1u);
    EXPECT_EQ(d.W, 128u + 1u);
    EXPECT_EQ(d.tlbi_op(TlbiOp::RVALE1IS), 1u);
}

TEST_F(KernelScenario, Scenario30_16kFaultAroundNeverProducesCont) {
    KernelConfig c = scripted();
    c.granule = arch::Granule::K16;
    build(c);
    const std::uint64_t base = 0x800000000;
    Syscall m;
    m.op = SyscallOp::Mmap;
    m.kind = MapKind::File;
    m.addr = base;
    m.len = 4u << 20;
    m.prot = kProtRead;
    m.file_folio = 64 * 1024;
    ASSERT_EQ(sys(m), 0);
    for (std::uint64_t a = base; a < base + (4u << 20); a += 16384) fault(a, arch::Access::Load);
    EXPECT_EQ(kernel->stats().blocks_mapped_cont, 0u);
}

TEST_F(KernelScenario, Scenario31_NoTlbiRangeEscalatesAt2M) {
    KernelConfig c = scripted();
    c.tlbirange = false;
    c.mthp_orders = {};
    build(c);
    ASSERT_EQ(mmap_anon(kBase, 4u << 20), 0);
    for (std::uint64_t a = kBase; a < kBase + (4u << 20); a += kPage) fault(a, arch::Access::Store);
    mark();
    ASSERT_EQ(mprotect(kBase, 2u << 20, kProtRead), 0);
    Delta d = delta();
    EXPECT_EQ(d.tlbi_op(TlbiOp::ASIDE1IS), 1u);
    EXPECT_EQ(d.tlbi, 1u);
    mark();
    ASSERT_EQ(mprotect(kBase + (2u << 20), 16 * kPage, kProtRead), 0);
    d = delta();
    EXPECT_EQ(d.tlbi_op(TlbiOp::VALE1IS), 16u);
    EXPECT_EQ(d.tlbi, 16u);
}

TEST_F(KernelScenario, Scenario32_Bbml2ConvertsWithoutTlbi) {
    KernelConfig c = scripted();
    c.bbml2_noabort = true;
    folded_block(c);
    mark();
    ASSERT_EQ(mprotect(kBlock + 5 * kPage, kPage, kProtRead), 0);
    const Delta d = delta();
    EXPECT_EQ(d.converts, 1u);
    EXPECT_EQ(d.X, 17u);
    EXPECT_EQ(d.W, 17u);
    EXPECT_EQ(d.tlbi, 1u);  // only the deferred page flush
    EXPECT_EQ(d.tlbi_op(TlbiOp::VALE1IS), 1u);
    EXPECT_EQ(d.dsb_ishst, 1u);
    EXPECT_EQ(d.dsb_ish, 1u);
}

TEST_F(KernelScenario, Scenario33_AccessDirtySmearing) {
    folded_block(scripted());
    ASSERT_EQ(madvise(kBlock, 16 * kPage, Advice::Free), 0);  // clean and old, still folded
    for (unsigned i = 0; i < 16; ++i) ASSERT_FALSE(arch::desc_dirty(pte(kBlock + i * kPage)));
    // The hardware dirties one entry (a store through the TLB with HAFDBS).
    ASSERT_EQ(translate(kBlock + 9 * kPage, arch::Access::Store).fault, arch::FaultKind::None);
    EXPECT_TRUE(arch::desc_dirty(pte(kBlock + 9 * kPage)));
    EXPECT_FALSE(arch::desc_dirty(pte(kBlock + 2 * kPage)));
    EXPECT_TRUE(arch::desc_dirty(kernel->pgtable().ptep_get(pte_pa(kBlock + 2 * kPage))));  // gathered
    ASSERT_EQ(mprotect(kBlock + 5 * kPage, kPage, kProtRead), 0);  // unfold
    for (unsigned i = 0; i < 16; ++i) EXPECT_TRUE(arch::desc_dirty(pte(kBlock + i * kPage))) << i;
}

TEST_F(KernelScenario, Scenario34_HugePfnmapSplitByMprotect) {
    build(scripted());
    ASSERT_EQ(mmap_kind(MapKind::HugePfnmap, kBase, 2u << 20), 0);
    mark();
    EXPECT_STREQ(fault(kBase + 0x1234, arch::Access::Load), "pfnmap_huge");
    Delta d = delta();
    EXPECT_EQ(d.W, 0u);
    EXPECT_EQ(d.tlbi, 0u);
    EXPECT_EQ(kernel->stats().huge_pmd_mapped, 1u);
    mark();
    ASSERT_EQ(mprotect(kBase + 0x10000, kPage, kProtRead), 0);
    d = delta();
    EXPECT_EQ(kernel->stats().huge_pmd_splits, 1u);
    EXPECT_EQ(d.tlbi, 1u);
    EXPECT_EQ(d.dsb_ish, 1u);
    EXPECT_EQ(mem->peek(kernel->tables().pmd_lookup(kernel->mm(), kBase)), 0u);  // nothing installed
    EXPECT_STREQ(fault(kBase + 0x20000, arch::Access::Load), "pfnmap_insert");  // PTE level now
}

TEST_F(KernelScenario, Scenario35_Erratum2645198FlushesWhenExecIsRemoved) {
    KernelConfig c = scripted();
    c.erratum_2645198 = true;
    build(c);
    ASSERT_EQ(mmap_anon(kBase, 2u << 20, kProtRead | kProtWrite | kProtExec), 0);
    ASSERT_STREQ(fault(kBlock, arch::Access::Store), "anon_folio_large");
    mark();
    ASSERT_EQ(mprotect(kBlock, 16 * kPage, kRW), 0);
    const Delta d = delta();
    EXPECT_EQ(d.converts, 0u);
    // The immediate X -> NX flush of the batch: the v6.17 modify_prot_start_ptes passes
    // nr * PAGE_SIZE as the end, so __flush_tlb_range escalates to flush_tlb_mm (the spec's
    // "immediate TLBI for the batch" is what was meant, not what the kernel does).
    EXPECT_EQ(d.tlbi_op(TlbiOp::ASIDE1IS), 1u);
    EXPECT_EQ(d.tlbi_op(TlbiOp::RVALE1IS), 1u);  // the deferred gather flush
}

TEST_F(KernelScenario, MunmapOfAnUnmappedRangeSucceedsAndBadArgumentsFail) {
    build(scripted());
    EXPECT_EQ(range_call(SyscallOp::Munmap, kBase, kPage), 0);
    EXPECT_EQ(range_call(SyscallOp::Munmap, kBase + 1, kPage), -err::kEinval);
    EXPECT_EQ(mprotect(kBase, kPage, kProtRead), -err::kEnomem);
    EXPECT_EQ(mprotect(kBase + 8, kPage, kProtRead), -err::kEinval);
    EXPECT_EQ(mmap_anon(kBase, kPage), 0);
    EXPECT_EQ(mmap_anon(kBase, kPage), -err::kEexist);
    EXPECT_EQ(madvise(kBase, 2 * kPage, Advice::DontNeed), -err::kEnomem);  // a hole after the VMA
    EXPECT_EQ(kernel->stats().by_op.at("mprotect").results.at("ENOMEM"), 1u);
}

}  // namespace
}  // namespace mmusim::kernel::testing
