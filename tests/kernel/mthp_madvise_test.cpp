// The audit items of branch mthp-madvise, one test (or a few) per item, each named after it:
// per-size mTHP modes and MADV_(NO)HUGEPAGE in alloc_anon_folio (item 1), MADV_FREE before and
// after the v6.10 batching (item 2), MADV_FREE of shared and partly covered folios (item 3),
// and the fault-path details of item 4 (anon_vma of a zero-page fault, dirty state of
// finish_fault, the fault-around window, the aging reads, efi_mm).
#include "models/kernel/pte.h"
#include "tests/kernel/scenario_fixture.h"

namespace mmusim::kernel::testing {
namespace {

using arch::TlbiOp;

constexpr std::uint64_t kBase = KernelScenario::kScriptBase;
constexpr std::uint64_t kPage = 4096;
constexpr std::uint64_t kBlockSize = 16 * kPage;
constexpr std::uint64_t kBlock = kBase;  // the block folded_block() folds
constexpr std::uint64_t kPmd = 2u << 20;

class MthpMadvise : public KernelScenario {
protected:
    // No mTHP size enabled by kernel.mthp; the modes of the test instead.
    KernelConfig modes(const char* version = "6.17") const {
        KernelConfig c = scripted(version);
        c.mthp_orders.clear();
        return c;
    }
    const char* store(std::uint64_t va) { return fault(va, arch::Access::Store); }
    std::uint64_t splits() const { return kernel->stats().folio_splits; }
    bool clean_and_old(std::uint64_t va) const {
        const arch::Desc e = pte(va);
        return arch::desc_valid(e) && !arch::desc_young(e) && !arch::desc_dirty(e);
    }
};

// ---- item 1: thp_vma_allowable_orders ------------------------------------------------------

TEST_F(MthpMadvise, Item1_NoHugePageVmaGetsOrderZero) {
    build(scripted());  // kernel.mthp = ["64K"] (always)
    ASSERT_EQ(mmap_anon(kBase, kPmd), 0);
    ASSERT_EQ(madvise(kBase, kBlockSize, Advice::NoHugePage), 0);
    EXPECT_STREQ(store(kBase + 3 * kPage), "anon_folio_order0");
    // The rest of the mapping (another VMA now) still gets 64K folios.
    EXPECT_STREQ(store(kBase + kBlockSize), "anon_folio_large");
}

TEST_F(MthpMadvise, Item1_MadviseModeSizeOnlyAfterMadvHugepage) {
    KernelConfig c = modes();
    c.mthp_madvise_orders = {4};
    build(c);
    ASSERT_EQ(mmap_anon(kBase, kPmd), 0);
    EXPECT_STREQ(store(kBase), "anon_folio_order0");
    ASSERT_EQ(madvise(kBase + kBlockSize, kBlockSize, Advice::HugePage), 0);
    EXPECT_STREQ(store(kBase + kBlockSize), "anon_folio_large");
    EXPECT_STREQ(store(kBase + 2 * kBlockSize), "anon_folio_order0");
    // MADV_NOHUGEPAGE takes it back.
    ASSERT_EQ(madvise(kBase + 4 * kBlockSize, kBlockSize, Advice::HugePage), 0);
    ASSERT_EQ(madvise(kBase + 4 * kBlockSize, kBlockSize, Advice::NoHugePage), 0);
    EXPECT_STREQ(store(kBase + 4 * kBlockSize), "anon_folio_order0");
}

TEST_F(MthpMadvise, Item1_InheritModeFollowsKernelThp) {
    for (const KernelConfig::Thp thp : {KernelConfig::Thp::Never, KernelConfig::Thp::Madvise, KernelConfig::Thp::Always}) {
        KernelConfig c = modes();
        c.mthp_inherit_orders = {4};
        c.thp = thp;
        build(c);
        // A VMA smaller than a PMD: never a PMD folio, so the mTHP choice alone decides.
        ASSERT_EQ(mmap_anon(kBase, 4 * kBlockSize), 0);
        ASSERT_EQ(madvise(kBase + 2 * kBlockSize, kBlockSize, Advice::HugePage), 0);
        const bool plain = thp == KernelConfig::Thp::Always;
        const bool advised = thp != KernelConfig::Thp::Never;
        EXPECT_STREQ(store(kBase), plain ? "anon_folio_large" : "anon_folio_order0") << static_cast<int>(thp);
        EXPECT_STREQ(store(kBase + 2 * kBlockSize), advised ? "anon_folio_large" : "anon_folio_order0")
            << static_cast<int>(thp);
    }
}

// ---- item 2: MADV_FREE before v6.10 -------------------------------------------------------

// v6.9's madvise_free_pte_range splits every large folio it meets (exclusive), then cleans
// each entry with ptep_get_and_clear_full + set_pte_at; v6.10 cleans the folded block in place.
TEST_F(MthpMadvise, Item2_MadvFreeV69SplitsTheLargeFolio) {
    folded_block(scripted("6.9"));
    mark();
    ASSERT_EQ(madvise(kBlock, kBlockSize, Advice::Free), 0);
    const Delta d = delta();
    EXPECT_EQ(splits(), 1u);
    EXPECT_EQ(d.unfolds, 1u);  // the first get-and-clear of split_folio's unmap
    EXPECT_EQ(d.blocks_cont, 0u);
    EXPECT_TRUE(block_unfolded());
    for (unsigned i = 0; i < 16; ++i) {
        EXPECT_TRUE(clean_and_old(kBlock + i * kPage)) << i;
        EXPECT_EQ(kernel->folios().folio_of(arch::desc_pfn(pte(kBlock + i * kPage), 12))->order, 0u) << i;
    }
    // unmap_folio: 16 nosync page TLBIs and one DSB.ISH; the unfold's block flush and the
    // gather's range flush.
    EXPECT_EQ(d.tlbi_op(TlbiOp::VALE1IS), 16u);
    EXPECT_EQ(d.tlbi_op(TlbiOp::RVALE1IS), 2u);
}

TEST_F(MthpMadvise, Item2_MadvFreeV610CleansTheFoldedBlockInPlace) {
    folded_block(scripted("6.10"));
    mark();
    ASSERT_EQ(madvise(kBlock, kBlockSize, Advice::Free), 0);
    const Delta d = delta();
    EXPECT_EQ(splits(), 0u);
    EXPECT_EQ(d.converts, 0u);
    EXPECT_TRUE(block_folded());
    for (unsigned i = 0; i < 16; ++i) EXPECT_TRUE(clean_and_old(kBlock + i * kPage)) << i;
}

// ---- item 3: MADV_FREE of shared and partly covered folios ---------------------------------

// A folio that another process maps too is cleaned in the caller's table (it is not PG_dirty):
// madvise_free_pte_range only keeps dirty shared folios; the child's entries stay as they are.
TEST_F(MthpMadvise, Item3_MadvFreeCleansASharedCleanFolioInTheCallerOnly) {
    folded_block(scripted());
    ASSERT_EQ(fork_child(1), 0);
    // fork write-protected the parent's entries; they stay young and (software) dirty.
    ASSERT_TRUE(arch::desc_young(pte(kBlock)));
    ASSERT_TRUE(arch::desc_dirty(pte(kBlock)));
    const std::uint64_t skipped = kernel->stats().madvise_free_skipped;
    ASSERT_EQ(madvise(kBlock, kBlockSize, Advice::Free), 0);
    EXPECT_EQ(kernel->stats().madvise_free_skipped, skipped);
    EXPECT_TRUE(block_folded());
    for (unsigned i = 0; i < 16; ++i) EXPECT_TRUE(clean_and_old(kBlock + i * kPage)) << i;
}

TEST_F(MthpMadvise, Item3_MadvFreeSplitsAPartlyCoveredExclusiveFolio) {
    folded_block(scripted());
    mark();
    ASSERT_EQ(madvise(kBlock + 4 * kPage, 8 * kPage, Advice::Free), 0);
    const Delta d = delta();
    EXPECT_EQ(splits(), 1u);
    EXPECT_EQ(kernel->stats().madvise_free_skipped, 0u);
    EXPECT_EQ(d.unfolds, 1u);
    EXPECT_TRUE(block_unfolded());
    for (unsigned i = 0; i < 16; ++i) {
        const bool in_range = i >= 4 && i < 12;
        EXPECT_EQ(clean_and_old(kBlock + i * kPage), in_range) << i;
        EXPECT_EQ(arch::desc_dirty(pte(kBlock + i * kPage)), !in_range) << i;
    }
}

TEST_F(MthpMadvise, Item3_MadvFreeSkipsAPartlyCoveredSharedFolio) {
    folded_block(scripted());
    ASSERT_EQ(fork_child(1), 0);
    ASSERT_EQ(madvise(kBlock + 4 * kPage, 8 * kPage, Advice::Free), 0);
    EXPECT_EQ(splits(), 0u);
    EXPECT_EQ(kernel->stats().madvise_free_skipped, 1u);  // one batch of 8 entries
    EXPECT_TRUE(block_folded());
    EXPECT_TRUE(arch::desc_young(pte(kBlock + 5 * kPage)));
}

// A THP partly covered by MADV_FREE: madvise_free_huge_pmd splits the folio (the PMD frozen
// to migration entries, then 512 order-0 pages), and the pages in range are cleaned.
TEST_F(MthpMadvise, Item3_MadvFreeSplitsAPartlyCoveredThp) {
    KernelConfig c = scripted();
    c.thp = KernelConfig::Thp::Always;
    build(c);
    ASSERT_EQ(mmap_anon(kBase, kPmd), 0);
    ASSERT_STREQ(store(kBase), "anon_huge_pmd");
    ASSERT_EQ(madvise(kBase, kBlockSize, Advice::Free), 0);
    EXPECT_EQ(splits(), 1u);
    EXPECT_EQ(kernel->stats().huge_pmd_splits, 1u);
    EXPECT_EQ(kernel->stats().madvise_free_skipped, 0u);
    for (unsigned i = 0; i < 16; ++i) EXPECT_TRUE(clean_and_old(kBase + i * kPage)) << i;
    EXPECT_TRUE(arch::desc_dirty(pte(kBase + kBlockSize)));
    EXPECT_EQ(kernel->folios().folio_of(arch::desc_pfn(pte(kBase + 100 * kPage), 12))->order, 0u);
}

// ---- item 4 --------------------------------------------------------------------------------

// (a) do_anonymous_page maps the zero page before anon_vma_prepare: a VMA only read has no
// anon_vma, and fork does not copy its tables.
TEST_F(MthpMadvise, Item4a_ZeroPageReadFaultLeavesNoAnonVma) {
    build(scripted());
    ASSERT_EQ(mmap_anon(kBase, kPmd), 0);
    ASSERT_STREQ(fault(kBase, arch::Access::Load), "anon_zero_page");
    EXPECT_FALSE(kernel->mm().find_vma(kBase)->anon_vma);
    ASSERT_EQ(fork_child(1), 0);
    const std::uint64_t child_pmd = kernel->tables().pmd_lookup(kernel->mm(1), kBase);
    EXPECT_TRUE(child_pmd == 0 || mem->peek(child_pmd) == 0);  // no table copied
    ASSERT_STREQ(store(kBase + kBlockSize), "anon_folio_large");
    EXPECT_TRUE(kernel->mm().find_vma(kBase)->anon_vma);
}

// (b) set_pte_range: a write fault maps the page dirty (maybe_mkwrite(pte_mkdirty)); a read
// fault leaves it clean; fault-around's prefaulted pages are clean and old (hardware AF).
TEST_F(MthpMadvise, Item4b_FinishFaultDirtiesOnlyWrittenPages) {
    build(scripted());
    ASSERT_EQ(mmap_kind(MapKind::File, kBase, 16 * kPage, true, kProtRead | kProtWrite, 3), 0);
    ASSERT_NE(fault(kBase + 2 * kPage, arch::Access::Load), nullptr);
    const arch::Desc read = pte(kBase + 2 * kPage);
    EXPECT_TRUE(arch::desc_valid(read));
    EXPECT_FALSE(arch::desc_dirty(read));
    EXPECT_TRUE(arch::desc_young(read));
    ASSERT_NE(fault(kBase + 5 * kPage, arch::Access::Store), nullptr);
    EXPECT_TRUE(arch::desc_dirty(pte(kBase + 5 * kPage)));
    EXPECT_TRUE(arch::desc_write(pte(kBase + 5 * kPage)));
    // Page 2 is cached; a read at page 3 maps page 2 around it, old and clean.
    ASSERT_EQ(madvise(kBase + 2 * kPage, kPage, Advice::DontNeed), 0);
    ASSERT_STREQ(fault(kBase + 3 * kPage, arch::Access::Load), "file_page");
    const arch::Desc around = pte(kBase + 2 * kPage);
    EXPECT_TRUE(arch::desc_valid(around));
    EXPECT_FALSE(arch::desc_young(around));
    EXPECT_FALSE(arch::desc_dirty(around));
}

// (c) do_fault_around counts the window from its start clamped to the VMA: a VMA that starts
// 4 pages into an aligned 16-page window gets 16 pages mapped, not 12.
TEST_F(MthpMadvise, Item4c_FaultAroundWindowFromTheClampedStart) {
    build(scripted());
    Syscall m;
    m.op = SyscallOp::Mmap;
    m.kind = MapKind::File;
    m.prot = kProtRead;
    m.file = 5;
    m.addr = kBase;
    m.len = 32 * kPage;
    ASSERT_EQ(sys(m), 0);
    for (unsigned i = 0; i < 32; ++i) fault(kBase + i * kPage, arch::Access::Load);  // the page cache
    m.addr = kBase + kPmd + 4 * kPage;  // 4 pages into an aligned window
    m.len = 28 * kPage;
    m.file_offset = 4 * kPage;
    ASSERT_EQ(sys(m), 0);
    ASSERT_STREQ(fault(m.addr, arch::Access::Load), "file_fault_around");
    for (unsigned i = 0; i < 16; ++i) EXPECT_TRUE(arch::desc_valid(pte(m.addr + i * kPage))) << i;
    EXPECT_EQ(pte(m.addr + 16 * kPage), 0u);
}

// (d) folio_referenced_one's walk reads the entry with ptep_get, which gathers A/D over a
// folded block (v6.17: the early exit stops at the first entry that is young and dirty).
TEST_F(MthpMadvise, Item4d_AgingReadsEntriesWithPtepGet) {
    folded_block(scripted());
    mark();
    ASSERT_EQ(range_call(SyscallOp::Reclaim, kBlock, kBlockSize), 0);
    // ptep_get per entry: the entry, then the block until an entry is young and dirty (v6.17
    // early exit): entry 0 ends the gather at once (2 R); after the first aging call the
    // block is old, so each later gather reads all 16 (17 R). ptep_clear_flush_young's own
    // reads are 18 per call (unchanged). With __ptep_get it was 16 + 16 x 18 = 304 R.
    const Delta d = delta();
    EXPECT_EQ(d.C, 256u);
    EXPECT_EQ(d.R, (2u + 15u * 17u) + 16u * 18u);
}

// (e) efi_mm is not a user mm (mm_is_user): set_ptes never adds CONT there and an entry that
// carries CONT is never unfolded. No script can create an efi_mm; the test builds one.
TEST_F(MthpMadvise, Item4e_EfiMmNeverGetsAutomaticCont) {
    build(scripted());
    Mm efi;
    efi.id = ~1u;
    efi.user = false;
    efi.efi = true;
    efi.pgd_pa = kernel->tables().pgd_alloc();
    const std::uint64_t va = 0x80000000;
    const std::uint64_t table = kernel->tables().pte_alloc(kernel->tables().pmd_alloc(efi, va));
    const std::uint64_t ptep = kernel->tables().pte_offset(table, va);
    const Folio f = *kernel->folios().alloc(4);
    using namespace arch::bits;
    const arch::Desc prot = kValid | kType | kShInner | kAf | kDbm | kSwDirty | kPxn;
    mark();
    kernel->pgtable().set_ptes(efi, va, ptep, arch::desc_with_pfn(prot, f.head_pfn, 12), 16);
    EXPECT_EQ(delta().blocks_cont, 0u);
    for (unsigned i = 0; i < 16; ++i) EXPECT_FALSE(arch::desc_cont(mem->peek(ptep + 8 * i)));
    // A one-entry store at the block's last entry: no fold attempt.
    mark();
    kernel->pgtable().set_pte_at(efi, va + 15 * kPage, ptep + 15 * 8, arch::desc_with_pfn(prot, f.head_pfn + 15, 12));
    EXPECT_EQ(delta().fold_attempts, 0u);
    EXPECT_EQ(delta().folds, 0u);
    // An entry the EFI code set CONT itself: a clear does not unfold the block.
    kernel->pgtable().__set_pte(ptep + 24, mem->peek(ptep + 24) | kCont);
    mark();
    (void)kernel->pgtable().ptep_get_and_clear(efi, va + 3 * kPage, ptep + 24);
    EXPECT_EQ(delta().converts, 0u);
    EXPECT_EQ(delta().unfolds, 0u);
}

}  // namespace
}  // namespace mmusim::kernel::testing
