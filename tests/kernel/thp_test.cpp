// PMD-sized anonymous THP: scenario 36 of spec/kernel.md §8 and the PMD-leaf paths around it
// (huge zero folio, madvise mode, fork and COW, reuse, mprotect, DONTNEED, MADV_FREE, aging,
// uffd-wp, exit, fallback when no PMD block is free).
#include "models/kernel/pte.h"
#include "tests/kernel/scenario_fixture.h"

namespace mmusim::kernel::testing {
namespace {

using arch::TlbiOp;

constexpr std::uint64_t kBase = KernelScenario::kScriptBase;
constexpr std::uint64_t kPage = 4096;
constexpr std::uint64_t kPmd = 2u << 20;
constexpr unsigned kRW = kProtRead | kProtWrite;

class KernelThp : public KernelScenario {
protected:
    KernelConfig thp(KernelConfig::Thp mode = KernelConfig::Thp::Always, const char* version = "6.17") const {
        KernelConfig c = scripted(version);
        c.thp = mode;
        return c;
    }
    arch::Desc pmd() const { return mem->peek(kernel->tables().pmd_lookup(kernel->mm(), kBase)); }
    bool pmd_is_leaf() const { return MmOps::pmd_leaf(pmd()); }
    // A PMD-mapped THP over the 2 MiB VMA at kBase.
    void mapped_thp(const KernelConfig& c) {
        build(c);
        ASSERT_EQ(mmap_anon(kBase, kPmd), 0);
        ASSERT_STREQ(fault(kBase + 0x1234, arch::Access::Store), "anon_huge_pmd");
        ASSERT_TRUE(pmd_is_leaf());
    }
    std::uint64_t table_writes() const { return kernel->stats().table_writes; }
};

TEST_F(KernelScenario, Scenario36_SplitPmdThpByPartialMunmap) {
    KernelConfig c = scripted();
    c.thp = KernelConfig::Thp::Always;
    build(c);
    ASSERT_EQ(mmap_anon(kBase, kPmd), 0);
    mark();
    ASSERT_STREQ(fault(kBase, arch::Access::Store), "anon_huge_pmd");
    Delta d = delta();
    EXPECT_EQ(d.W, 0u);  // one PMD store, no PTE
    EXPECT_EQ(d.tlbi, 0u);
    EXPECT_EQ(kernel->stats().thp_fault_alloc, 1u);
    EXPECT_EQ(kernel->stats().folios_by_size.at(kPmd), 1u);

    // munmap of one aligned 64K block inside it: the VMA split cuts the PMD.
    const std::uint64_t cut = kBase + 0x40000;
    mark();
    ASSERT_EQ(range_call(SyscallOp::Munmap, cut, 16 * kPage), 0);
    d = delta();
    EXPECT_EQ(kernel->stats().huge_pmd_splits, 1u);
    EXPECT_EQ(d.W, 512u);            // one set_ptes of the whole table
    EXPECT_EQ(d.blocks_cont, 32u);   // every block written folded directly
    EXPECT_EQ(d.converts, 0u);
    EXPECT_EQ(d.unfolds, 0u);
    EXPECT_EQ(d.X, 16u);             // the zap of one whole block
    // PMD-level flush at the split (RVAE1IS, PMD stride, level 2) + the deferred leaf flush.
    EXPECT_EQ(d.tlbi_op(TlbiOp::RVAE1IS), 1u);
    EXPECT_EQ(d.tlbi_op(TlbiOp::RVALE1IS), 1u);
    EXPECT_EQ(d.tlbi, 2u);
    EXPECT_EQ(d.isb, 1u);            // pmd_populate's barrier pair
    EXPECT_EQ(d.dsb_ishst, 3u);      // two flushes + the barrier pair
    EXPECT_EQ(d.dsb_ish, 2u);
    EXPECT_FALSE(MmOps::pmd_leaf(mem->peek(kernel->tables().pmd_lookup(kernel->mm(), kBase))));
    for (std::uint64_t a = kBase; a < kBase + kPmd; a += 16 * kPage) {
        if (a == cut) {
            EXPECT_EQ(pte(a), 0u);
            continue;
        }
        for (unsigned i = 0; i < 16; ++i) ASSERT_TRUE(arch::desc_valid_cont(pte(a + i * kPage))) << std::hex << a;
    }
    // The split kept the THP's state: writable and dirty, one PFN run.
    const arch::Desc e = pte(kBase + 5 * kPage);
    EXPECT_TRUE(arch::desc_write(e));
    EXPECT_TRUE(arch::desc_dirty(e));
    EXPECT_EQ(arch::desc_pfn(pte(kBase + 100 * kPage), 12), arch::desc_pfn(pte(kBase), 12) + 100);
}

TEST_F(KernelScenario, Scenario36_UnalignedCutUnfoldsOnlyTheBlockItCuts) {
    KernelConfig c = scripted();
    c.thp = KernelConfig::Thp::Always;
    build(c);
    ASSERT_EQ(mmap_anon(kBase, kPmd), 0);
    ASSERT_STREQ(fault(kBase, arch::Access::Store), "anon_huge_pmd");
    mark();
    // 64K starting half-way into a block: two blocks cut, each unfolded once.
    ASSERT_EQ(range_call(SyscallOp::Munmap, kBase + 0x48000, 16 * kPage), 0);
    const Delta d = delta();
    EXPECT_EQ(d.blocks_cont, 32u);
    EXPECT_EQ(d.unfolds, 2u);
    EXPECT_EQ(d.converts, 2u);
}

TEST_F(KernelThp, ReadMapsTheHugeZeroFolioAndAWriteReplacesIt) {
    build(thp());
    ASSERT_EQ(mmap_anon(kBase, kPmd), 0);
    ASSERT_STREQ(fault(kBase + 0x3000, arch::Access::Load), "anon_huge_zero_page");
    EXPECT_TRUE(MmOps::pmd_leaf(pmd()));
    EXPECT_FALSE(arch::desc_write(pmd()));
    EXPECT_EQ(kernel->stats().thp_zero_page_mapped, 1u);
    mark();
    ASSERT_STREQ(fault(kBase + 0x3000, arch::Access::Store, arch::FaultKind::Permission), "anon_huge_zero_wp");
    const Delta d = delta();
    EXPECT_EQ(d.tlbi_op(TlbiOp::RVAE1IS), 1u);  // the zero PMD cleared and flushed first
    EXPECT_TRUE(arch::desc_write(pmd()));
    EXPECT_EQ(kernel->stats().thp_fault_alloc, 1u);
}

TEST_F(KernelThp, TheHugeZeroFolioPmdIsSpecialFromV618) {
    // set_huge_zero_folio: pmd_mkhuge(mk_pmd()) before v6.18 (no PTE_SPECIAL, as Linux 6.12
    // shows under linux-check), pmd_mkspecial from v6.18.
    for (const char* version : {"6.12", "6.17", "6.18"}) {
        build(thp(KernelConfig::Thp::Always, version));
        ASSERT_EQ(mmap_anon(kBase, kPmd), 0);
        ASSERT_STREQ(fault(kBase, arch::Access::Load), "anon_huge_zero_page") << version;
        EXPECT_EQ(arch::desc_special(pmd()), std::string(version) == "6.18") << version;
    }
}

TEST_F(KernelThp, SplittingTheHugeZeroFolioWritesZeroPagesOneByOne) {
    build(thp());
    ASSERT_EQ(mmap_anon(kBase, kPmd), 0);
    ASSERT_STREQ(fault(kBase, arch::Access::Load), "anon_huge_zero_page");
    mark();
    ASSERT_EQ(mprotect(kBase, 16 * kPage, kProtRead), 0);  // a VMA boundary inside the PMD
    const Delta d = delta();
    EXPECT_EQ(kernel->stats().huge_pmd_splits, 1u);
    EXPECT_EQ(d.blocks_cont, 0u);  // set_pte_at per entry, all the same zero page
    EXPECT_GE(d.W, 512u);
    EXPECT_TRUE(arch::desc_special(pte(kBase + 300 * kPage)));
}

TEST_F(KernelThp, MadviseModeNeedsMadvHugepage) {
    build(thp(KernelConfig::Thp::Madvise));
    ASSERT_EQ(mmap_anon(kBase, 2 * kPmd), 0);
    EXPECT_STREQ(fault(kBase, arch::Access::Store), "anon_folio_large");  // the 64K mTHP
    ASSERT_EQ(madvise(kBase + kPmd, kPmd, Advice::HugePage), 0);
    EXPECT_STREQ(fault(kBase + kPmd, arch::Access::Store), "anon_huge_pmd");
    ASSERT_EQ(madvise(kBase + kPmd, kPmd, Advice::NoHugePage), 0);
}

TEST_F(KernelThp, AlwaysModeRespectsNoHugepageAndTheVmaBounds) {
    build(thp());
    ASSERT_EQ(mmap_anon(kBase, kPmd - kPage), 0);  // the PMD range does not fit
    EXPECT_STREQ(fault(kBase, arch::Access::Store), "anon_folio_large");
    ASSERT_EQ(mmap_anon(kBase + 4 * kPmd, kPmd), 0);
    ASSERT_EQ(madvise(kBase + 4 * kPmd, kPmd, Advice::NoHugePage), 0);
    // MADV_NOHUGEPAGE turns off every THP order, mTHP too (thp_vma_allowable_orders).
    EXPECT_STREQ(fault(kBase + 4 * kPmd, arch::Access::Store), "anon_folio_order0");
}

TEST_F(KernelThp, ForkWriteProtectsTheLeafAndCowSplitsIt) {
    mapped_thp(thp());
    const std::uint64_t writes = table_writes();
    mark();
    ASSERT_EQ(fork_child(), 0);
    Delta d = delta();
    EXPECT_EQ(d.W, 0u);
    EXPECT_EQ(d.tlbi_op(TlbiOp::ASIDE1IS), 1u);  // the fork's flush_tlb_mm only
    EXPECT_EQ(d.tlbi, 1u);
    EXPECT_GE(table_writes() - writes, 2u);      // parent wrprotect + child PMD (+ child upper tables)
    EXPECT_FALSE(arch::desc_write(pmd()));
    const std::uint64_t child_pmd = kernel->tables().pmd_lookup(kernel->mm(1), kBase);
    ASSERT_NE(child_pmd, 0u);
    EXPECT_TRUE(MmOps::pmd_leaf(mem->peek(child_pmd)));
    EXPECT_FALSE(arch::desc_young(mem->peek(child_pmd)));
    EXPECT_EQ(arch::desc_pfn(mem->peek(child_pmd), 12), arch::desc_pfn(pmd(), 12));

    // The parent writes: the folio is shared, so the PMD is split and one page copied.
    mark();
    EXPECT_STREQ(fault(kBase + 0x5000, arch::Access::Store, arch::FaultKind::Permission), "wp_copy");
    d = delta();
    EXPECT_EQ(kernel->stats().huge_pmd_splits, 1u);
    EXPECT_EQ(d.blocks_cont, 32u);
    EXPECT_EQ(d.unfolds, 1u);  // the copied page's block
    EXPECT_TRUE(MmOps::pmd_leaf(mem->peek(child_pmd)));  // the child keeps its leaf
}

TEST_F(KernelThp, AnExclusiveLeafIsReusedInPlace) {
    mapped_thp(thp());
    ASSERT_EQ(fork_child(), 0);
    ASSERT_EQ(exit_process(1), 0);
    mark();
    EXPECT_STREQ(fault(kBase, arch::Access::Store, arch::FaultKind::Permission), "huge_pmd_reuse");
    const Delta d = delta();
    EXPECT_EQ(d.tlbi_op(TlbiOp::VALE1IS), 1u);  // flush_tlb_page before v6.19
    EXPECT_TRUE(arch::desc_write(pmd()));
    EXPECT_EQ(kernel->stats().huge_pmd_splits, 0u);
}

TEST_F(KernelThp, ReuseFlushesLocallyFromV619) {
    mapped_thp(thp(KernelConfig::Thp::Always, "6.19"));
    ASSERT_EQ(fork_child(), 0);
    ASSERT_EQ(exit_process(1), 0);
    mark();
    EXPECT_STREQ(fault(kBase, arch::Access::Store, arch::FaultKind::Permission), "huge_pmd_reuse");
    const Delta d = delta();
    EXPECT_EQ(d.tlbi_op(TlbiOp::VALE1), 1u);
    EXPECT_EQ(d.tlbi, 1u);
}

TEST_F(KernelThp, ChildExitFreesItsDepositedTable) {
    mapped_thp(thp());
    const std::uint64_t alloc0 = kernel->stats().tables_allocated, freed0 = kernel->stats().tables_freed;
    ASSERT_EQ(fork_child(), 0);
    const std::uint64_t child_tables = kernel->stats().tables_allocated - alloc0;
    EXPECT_GE(child_tables, 2u);  // its PGD and upper tables, and the deposit
    ASSERT_EQ(exit_process(1), 0);
    EXPECT_EQ(kernel->stats().tables_freed - freed0, child_tables);
    EXPECT_TRUE(kernel->mm(0).deposited.count(kBase) == 1);
}

TEST_F(KernelThp, MprotectOfTheWholeLeafChangesItInPlace) {
    mapped_thp(thp());
    mark();
    ASSERT_EQ(mprotect(kBase, kPmd, kProtRead), 0);
    Delta d = delta();
    EXPECT_EQ(d.W, 0u);
    EXPECT_EQ(d.tlbi_op(TlbiOp::RVAE1IS), 1u);  // pmdp_invalidate_ad, immediate
    EXPECT_EQ(d.tlbi, 2u);                       // + the gathered PMD flush (write removed)
    EXPECT_TRUE(pmd_is_leaf());
    EXPECT_FALSE(arch::desc_write(pmd()));
    EXPECT_EQ(kernel->stats().huge_pmd_splits, 0u);
    // Back to read/write: the folio is exclusive, so the leaf is made writable again.
    ASSERT_EQ(mprotect(kBase, kPmd, kRW), 0);
    EXPECT_TRUE(arch::desc_write(pmd()));
    // PROT_NONE keeps a present-invalid leaf that comes back intact.
    ASSERT_EQ(mprotect(kBase, kPmd, 0), 0);
    EXPECT_FALSE(arch::desc_valid(pmd()));
    EXPECT_TRUE(pmd_is_leaf());
    ASSERT_EQ(mprotect(kBase, kPmd, kRW), 0);
    EXPECT_TRUE(arch::desc_valid(pmd()));
}

TEST_F(KernelThp, PartialMprotectSplitsAtTheVmaBoundary) {
    mapped_thp(thp());
    mark();
    ASSERT_EQ(mprotect(kBase, 16 * kPage, kProtRead), 0);
    const Delta d = delta();
    EXPECT_EQ(kernel->stats().huge_pmd_splits, 1u);
    EXPECT_EQ(d.converts, 0u);  // whole block batched (v6.17)
    EXPECT_TRUE(block_folded());
    EXPECT_FALSE(arch::desc_write(pte(kBase)));
    EXPECT_TRUE(arch::desc_write(pte(kBase + 16 * kPage)));
}

TEST_F(KernelThp, DontneedOfTheWholeLeafFreesFolioAndDeposit) {
    mapped_thp(thp());
    const std::uint64_t freed = kernel->stats().tables_freed;
    mark();
    ASSERT_EQ(madvise(kBase, kPmd, Advice::DontNeed), 0);
    const Delta d = delta();
    EXPECT_EQ(d.X, 0u);
    EXPECT_EQ(d.tlbi, 1u);  // gathered at PMD stride
    EXPECT_EQ(pmd(), 0u);
    EXPECT_EQ(kernel->stats().tables_freed, freed + 1);
    EXPECT_TRUE(kernel->mm().deposited.empty());
    EXPECT_EQ(kernel->rmap().find(0), nullptr);
    // The next touch maps a new THP.
    EXPECT_STREQ(fault(kBase, arch::Access::Store), "anon_huge_pmd");
}

TEST_F(KernelThp, DontneedOfHalfTheLeafSplitsAndZapsPtes) {
    mapped_thp(thp());
    mark();
    ASSERT_EQ(madvise(kBase, kPmd / 2, Advice::DontNeed), 0);
    const Delta d = delta();
    EXPECT_EQ(kernel->stats().huge_pmd_splits, 1u);
    EXPECT_EQ(d.X, 256u);
    EXPECT_EQ(d.converts, 0u);
    EXPECT_EQ(pte(kBase), 0u);
    EXPECT_TRUE(arch::desc_valid_cont(pte(kBase + kPmd / 2)));
}

TEST_F(KernelThp, MadvFreeCleansTheWholeLeaf) {
    mapped_thp(thp());
    mark();
    ASSERT_EQ(madvise(kBase, kPmd, Advice::Free), 0);
    const Delta d = delta();
    EXPECT_EQ(d.tlbi, 2u);  // pmdp_invalidate's immediate flush + the gathered one
    EXPECT_FALSE(arch::desc_dirty(pmd()));
    EXPECT_FALSE(arch::desc_young(pmd()));
    EXPECT_TRUE(arch::desc_valid(pmd()));
}

TEST_F(KernelThp, ReclaimAgesTheLeafOnce) {
    mapped_thp(thp());
    Syscall r;
    r.op = SyscallOp::Reclaim;
    r.addr = kBase;
    r.len = kPmd;
    mark();
    ASSERT_EQ(sys(r), 0);
    Delta d = delta();
    EXPECT_EQ(kernel->stats().reclaim_aged, 1u);
    EXPECT_EQ(d.tlbi, 1u);
    EXPECT_EQ(d.dsb_ish, 1u);  // pmdp_clear_flush_young waits
    EXPECT_FALSE(arch::desc_young(pmd()));
    // The next access sets the flag again without hardware help.
    EXPECT_STREQ(fault(kBase, arch::Access::Load, arch::FaultKind::AccessFlag), "huge_pmd_access_flag");
    EXPECT_TRUE(arch::desc_young(pmd()));
    mark();
    ASSERT_EQ(sys(r), 0);
    ASSERT_EQ(sys(r), 0);  // nothing young the second time: no flush
    d = delta();
    EXPECT_EQ(d.tlbi, 1u);
}

TEST_F(KernelThp, UffdWpProtectsTheLeafAndAWriteSplitsIt) {
    mapped_thp(thp());
    ASSERT_EQ(uffd_register_wp(kBase, kPmd), 0);
    ASSERT_EQ(uffd_wp(kBase, kPmd), 0);
    EXPECT_TRUE(pte_uffd_wp(pmd()));
    EXPECT_FALSE(arch::desc_write(pmd()));
    EXPECT_STREQ(fault(kBase + 7 * kPage, arch::Access::Store, arch::FaultKind::Permission), "uffd_wp_sync");
    EXPECT_EQ(kernel->stats().huge_pmd_splits, 1u);
    EXPECT_FALSE(pte_uffd_wp(pte(kBase + 7 * kPage)));  // the monitor unprotected that page
    EXPECT_TRUE(pte_uffd_wp(pte(kBase + 8 * kPage)));
}

TEST_F(KernelThp, ExitZapsTheLeafWithoutALeafFlush) {
    mapped_thp(thp());
    ASSERT_EQ(fork_child(), 0);
    mark();
    ASSERT_EQ(exit_process(1), 0);
    const Delta d = delta();
    EXPECT_EQ(d.tlbi_op(TlbiOp::RVAE1IS) + d.tlbi_op(TlbiOp::VAE1IS), 0u);
    EXPECT_EQ(d.tlbi_op(TlbiOp::ASIDE1IS), 1u);  // tables freed: one flush by ASID
}

TEST_F(KernelThp, NoFreePmdBlockFallsBackToPtes) {
    KernelConfig c = thp();
    c.memory_bytes = 4u << 20;  // block 0 holds the zero page and the tables
    build(c);
    ASSERT_EQ(mmap_anon(kBase, 2 * kPmd), 0);
    EXPECT_STREQ(fault(kBase, arch::Access::Store), "anon_huge_pmd");
    EXPECT_STREQ(fault(kBase + kPmd, arch::Access::Store), "anon_folio_large");
    EXPECT_EQ(kernel->stats().thp_fault_fallback, 1u);
}

}  // namespace
}  // namespace mmusim::kernel::testing
