// PageAnonExclusive (audit item 6) and large-folio reuse on a write fault by version (audit
// item 2): fork takes the flag from the parent's pages, and afterwards Linux makes such a page
// writable again only through a write fault that reuses it (do_wp_page), never in mprotect or
// in the NUMA rebuild (can_change_pte_writable). A large folio's page is reused from v6.15
// (__wp_can_reuse_large_anon_folio); before, it is copied.
#include "tests/kernel/scenario_fixture.h"

#include <algorithm>

namespace mmusim::kernel::testing {
namespace {

constexpr std::uint64_t kBase = KernelScenario::kScriptBase;
constexpr std::uint64_t kBlock = kBase;
constexpr std::uint64_t kPage = 4096;
constexpr unsigned kRW = kProtRead | kProtWrite;

class AnonExclusive : public KernelScenario {
protected:
    // One order-0 page written at kBase, then shared with a child that exits.
    void page_after_fork_and_exit(const char* version = "6.17") {
        KernelConfig c = scripted(version);
        c.mthp_orders = {};
        build(c);
        ASSERT_EQ(mmap_anon(kBase, 2u << 20), 0);
        ASSERT_STREQ(fault(kBase, arch::Access::Store), "anon_folio_order0");
        ASSERT_EQ(fork_child(), 0);
        ASSERT_EQ(exit_process(1), 0);
        ASSERT_FALSE(arch::desc_write(pte(kBase)));
    }
    bool writable(std::uint64_t va) const { return arch::desc_write(pte(va)); }
};

class Item2LargeFolioReuse : public AnonExclusive, public ::testing::WithParamInterface<const char*> {};

TEST_P(Item2LargeFolioReuse, Item2_LargeFolioCowReuseOnlyFromV615) {
    // Scenario 16 by version: the child that shared the folded block has exited.
    const std::string version = GetParam();
    folded_block(scripted(version.c_str()));
    ASSERT_EQ(fork_child(), 0);
    ASSERT_EQ(exit_process(1), 0);
    const bool reuse = version != "6.14";
    mark();
    EXPECT_STREQ(fault(kBlock + 3 * kPage, arch::Access::Store, arch::FaultKind::Permission), reuse ? "wp_reuse" : "wp_copy");
    const Delta d = delta();
    EXPECT_EQ(d.converts, 1u);  // the unfold, either way
    if (reuse) {
        EXPECT_EQ(arch::desc_pfn(pte(kBlock + 3 * kPage), 12), arch::desc_pfn(pte(kBlock), 12) + 3);
    } else {
        // wp_page_copy: ptep_clear_flush (1 X, a page TLBI) and a new order-0 page.
        EXPECT_EQ(d.X, 16u + 1u);
        EXPECT_EQ(d.tlbi_op(arch::TlbiOp::VALE1IS), 1u);
        EXPECT_NE(arch::desc_pfn(pte(kBlock + 3 * kPage), 12), arch::desc_pfn(pte(kBlock), 12) + 3);
    }
    EXPECT_TRUE(writable(kBlock + 3 * kPage));
}

INSTANTIATE_TEST_SUITE_P(AnonExclusive, Item2LargeFolioReuse, ::testing::Values("6.14", "6.15", "6.17"),
                         [](const ::testing::TestParamInfo<const char*>& i) {
                             std::string name = std::string("v") + i.param;
                             name.erase(std::remove(name.begin(), name.end(), '.'), name.end());
                             return name;
                         });

TEST_F(AnonExclusive, Item2_LargeFolioWithOnePageLeftIsCopiedFromV615) {
    // __wp_can_reuse_large_anon_folio: folio_large_mapcount <= 1 -> copy, and give the large
    // folio back.
    folded_block(scripted("6.15"));
    ASSERT_EQ(fork_child(), 0);
    ASSERT_EQ(exit_process(1), 0);
    ASSERT_EQ(madvise(kBlock + kPage, 15 * kPage, Advice::DontNeed), 0);
    EXPECT_STREQ(fault(kBlock, arch::Access::Store, arch::FaultKind::Permission), "wp_copy");
}

TEST_F(AnonExclusive, Item6_MprotectAfterForkKeepsPagesReadOnlyUntilAWriteFaultReusesThem) {
    for (const char* version : {"6.16", "6.17"}) {
        SCOPED_TRACE(version);
        page_after_fork_and_exit(version);
        ASSERT_EQ(mprotect(kBase, kPage, kProtRead), 0);
        ASSERT_EQ(mprotect(kBase, kPage, kRW), 0);
        EXPECT_FALSE(writable(kBase));  // not PageAnonExclusive: the write fault decides
        EXPECT_STREQ(fault(kBase, arch::Access::Store, arch::FaultKind::Permission), "wp_reuse");
        ASSERT_EQ(mprotect(kBase, kPage, kProtRead), 0);
        ASSERT_EQ(mprotect(kBase, kPage, kRW), 0);
        EXPECT_TRUE(writable(kBase));  // exclusive since the reuse
    }
}

TEST_F(AnonExclusive, Item6_NumaRebuildAfterForkKeepsThePageReadOnly) {
    page_after_fork_and_exit();
    ASSERT_EQ(range_call(SyscallOp::NumaScan, kBase, kPage), 0);
    EXPECT_STREQ(fault(kBase, arch::Access::Load, arch::FaultKind::Translation), "numa_hinting");
    EXPECT_FALSE(writable(kBase));
    // A page that was never shared comes back writable.
    ASSERT_STREQ(fault(kBase + 0x10000, arch::Access::Store), "anon_folio_order0");
    ASSERT_EQ(range_call(SyscallOp::NumaScan, kBase + 0x10000, kPage), 0);
    EXPECT_STREQ(fault(kBase + 0x10000, arch::Access::Load, arch::FaultKind::Translation), "numa_hinting");
    EXPECT_TRUE(writable(kBase + 0x10000));
}

TEST_F(AnonExclusive, Item6_V617MprotectCommitsRunsOfOneExclusiveState) {
    // A folded block shared by fork, the child gone; a write fault reuses page 3 (v6.17), so
    // only that page is PageAnonExclusive. mprotect(rw) of the whole block after mprotect(r):
    // one batch of 16, committed as three runs (commit_anon_folio_batch): pages 0-2, page 3
    // made writable, pages 4-15.
    folded_block(scripted("6.17"));
    ASSERT_EQ(fork_child(), 0);
    ASSERT_EQ(exit_process(1), 0);
    ASSERT_STREQ(fault(kBlock + 3 * kPage, arch::Access::Store, arch::FaultKind::Permission), "wp_reuse");
    ASSERT_EQ(mprotect(kBlock, 16 * kPage, kProtRead), 0);
    mark();
    ASSERT_EQ(mprotect(kBlock, 16 * kPage, kRW), 0);
    const Delta d = delta();
    for (unsigned i = 0; i < 16; ++i) EXPECT_EQ(writable(kBlock + i * kPage), i == 3) << i;
    EXPECT_EQ(d.X, 16u);  // one modify_prot_start_ptes(16)
    EXPECT_EQ(d.W, 16u);  // set_ptes(3), set_ptes(1), set_ptes(12)
    EXPECT_EQ(d.fold_attempts, 0u);
    EXPECT_TRUE(block_unfolded());
}

TEST_F(AnonExclusive, Item6_ForkedThpIsNotMadeWritableByMprotect) {
    KernelConfig c = scripted();
    c.thp = KernelConfig::Thp::Always;
    build(c);
    ASSERT_EQ(mmap_anon(kBase, 2u << 20), 0);
    ASSERT_STREQ(fault(kBase, arch::Access::Store), "anon_huge_pmd");
    ASSERT_EQ(fork_child(), 0);
    ASSERT_EQ(exit_process(1), 0);
    ASSERT_EQ(mprotect(kBase, 2u << 20, kProtRead), 0);
    ASSERT_EQ(mprotect(kBase, 2u << 20, kRW), 0);
    const std::uint64_t pmd = kernel->tables().pmd_lookup(kernel->mm(), kBase);
    ASSERT_TRUE(MmOps::pmd_leaf(mem->peek(pmd)));
    EXPECT_FALSE(arch::desc_write(mem->peek(pmd)));
    // The write fault reuses it (only this PMD references it) and makes it exclusive again.
    EXPECT_STREQ(fault(kBase, arch::Access::Store, arch::FaultKind::Permission), "huge_pmd_reuse");
    ASSERT_EQ(mprotect(kBase, 2u << 20, kProtRead), 0);
    ASSERT_EQ(mprotect(kBase, 2u << 20, kRW), 0);
    EXPECT_TRUE(arch::desc_write(mem->peek(pmd)));
}

}  // namespace
}  // namespace mmusim::kernel::testing
