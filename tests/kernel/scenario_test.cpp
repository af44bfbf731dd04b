// Scenarios of spec/kernel.md §8 reachable through the anonymous fault paths, with their
// exact counts. Counts of a whole fault add the reads core mm makes around the arch
// operation (mm/memory.c): the lockless read in handle_pte_fault, the pte_range_none scans of
// alloc_anon_folio, and the re-check under the PTE lock.
#include "tests/kernel/scenario_fixture.h"

namespace mmusim::kernel::testing {
namespace {

using namespace arch::bits;
constexpr std::uint64_t kBlock = 0x10000000;  // a 64 KiB aligned VA
constexpr std::uint64_t kPage = 4096;


TEST_F(KernelScenario, Scenario01_Mthp64kWriteFaultAlignedEmptyRange) {
    KernelConfig c = config();
    c.mthp_orders = {4};
    build(c);
    populate_table();
    const std::uint64_t folios_before = kernel->stats().folios_by_size.at(65536);
    mark();
    EXPECT_STREQ(fault(kBlock + 5 * kPage, arch::Access::Store), "anon_folio_large");
    const Delta d = delta();
    // set_ptes(16) on none entries: 16 W with CONT, no convert, no TLBI, no barrier.
    EXPECT_EQ(d.W, 16u);
    EXPECT_EQ(d.X, 0u);
    EXPECT_EQ(d.converts, 0u);
    EXPECT_EQ(d.fold_attempts, 0u);
    EXPECT_EQ(d.blocks_cont, 1u);
    EXPECT_EQ(d.tlbi, 0u);
    EXPECT_EQ(d.dsb_ishst + d.dsb_ish + d.isb, 0u);
    // Reads: lockless read of the target (1), pte_range_none for order 4 (16), and the
    // re-check of the whole range under the lock (16).
    EXPECT_EQ(d.R, 33u);
    EXPECT_EQ(kernel->stats().folios_by_size.at(65536), folios_before + 1);
    const std::uint64_t first_pfn = arch::desc_pfn(pte(kBlock), 12);
    EXPECT_EQ(first_pfn % 16, 0u);
    for (unsigned i = 0; i < 16; ++i) {
        const arch::Desc e = pte(kBlock + i * kPage);
        EXPECT_TRUE(arch::desc_valid_cont(e)) << i;
        EXPECT_EQ(arch::desc_pfn(e, 12), first_pfn + i) << i;
        EXPECT_TRUE(arch::desc_dirty(e) && arch::desc_young(e) && arch::desc_write(e)) << i;
    }
    EXPECT_FALSE(arch::desc_cont(pte(kBlock + 16 * kPage)));

    // ptep_get on an entry of the folded block: v6.17 stops once dirty and young are both
    // seen: entry 0 is dirty, then re-read and found young: 1 + 2 R.
    mark();
    (void)kernel->pgtable().ptep_get(pte_pa(kBlock + 7 * kPage));
    EXPECT_EQ(delta().R, 3u);
}

TEST_F(KernelScenario, Scenario01_PtepGetReadsWholeBlockBefore617) {
    KernelConfig c = config();
    c.mthp_orders = {4};
    c.version = *KernelVersion::parse("6.16");
    build(c);
    fault(kBlock, arch::Access::Store);
    mark();
    const arch::Desc e = kernel->pgtable().ptep_get(pte_pa(kBlock + 7 * kPage));
    EXPECT_EQ(delta().R, 17u);  // 1 + 16
    EXPECT_TRUE(arch::desc_cont(e));  // CONT is deliberately visible to callers
}

TEST_F(KernelScenario, Scenario03_OrderZeroFaultsFillingABlock) {
    build(config());  // mthp [] : order 0 only
    populate_table();
    // Make the 16th page's PA the last of an aligned group, so that the cheap pre-check
    // passes and the fold attempt stops at the folio test. The allocator hands out the
    // lowest free page; probe it and hold spare pages until the alignment works out.
    std::vector<Folio> spare;
    const auto next_pfn = [&] {
        const Folio f = *kernel->folios().alloc(0);
        kernel->folios().free(f);
        return f.head_pfn;
    };
    while ((next_pfn() + 15) % 16 != 15) spare.push_back(*kernel->folios().alloc(0));

    for (unsigned i = 0; i < 16; ++i) {
        mark();
        EXPECT_STREQ(fault(kBlock + i * kPage, arch::Access::Store), "anon_folio_order0");
        const Delta d = delta();
        // lockless read (1) + re-check under the lock (1) + set_ptes(1): 1 R + 1 W.
        EXPECT_EQ(d.R, 3u) << i;
        EXPECT_EQ(d.W, 1u) << i;
        EXPECT_EQ(d.converts, 0u) << i;
        // Only the last entry, VA and PA aligned, passes the pre-check; the folio test then
        // stops it without reading any entry.
        EXPECT_EQ(d.fold_attempts, i == 15 ? 1u : 0u) << i;
    }
    EXPECT_EQ(arch::desc_pfn(pte(kBlock + 15 * kPage), 12) % 16, 15u);
    for (unsigned i = 0; i < 16; ++i) EXPECT_FALSE(arch::desc_cont(pte(kBlock + i * kPage))) << i;
    EXPECT_EQ(kernel->stats().folds, 0u);
}

TEST_F(KernelScenario, Scenario04_ReadThenWriteOnFreshAnon) {
    KernelConfig c = config();
    c.mthp_orders = {4};
    build(c);
    populate_table();
    const std::uint64_t va = kBlock + 3 * kPage;

    mark();
    EXPECT_STREQ(fault(va, arch::Access::Load), "anon_zero_page");
    Delta d = delta();
    // lockless read (1) + re-check (1) + set_ptes(1): 1 R + 1 W; special entry, no fold
    // attempt, no TLBI, no barrier.
    EXPECT_EQ(d.R, 3u);
    EXPECT_EQ(d.W, 1u);
    EXPECT_EQ(d.fold_attempts, 0u);
    EXPECT_EQ(d.tlbi + d.dsb_ishst + d.dsb_ish + d.isb, 0u);
    const arch::Desc zero = pte(va);
    EXPECT_TRUE(arch::desc_special(zero));
    EXPECT_TRUE(arch::desc_rdonly(zero));
    EXPECT_FALSE(arch::desc_write(zero));
    EXPECT_EQ(arch::desc_pfn(zero, 12), kernel->zero_pfn());

    mark();
    EXPECT_STREQ(fault(va, arch::Access::Store, arch::FaultKind::Permission), "wp_copy_zero");
    d = delta();
    // handle_pte_fault: lockless read (1) + re-check under the lock (1); do_wp_page's uffd-wp
    // check (1); wp_page_copy's pte_same check (1); ptep_clear_flush: 1 R + 1 X and a
    // synchronous page TLBI; set_pte_at: 1 R + 1 W.
    EXPECT_EQ(d.R, 6u);
    EXPECT_EQ(d.X, 1u);
    EXPECT_EQ(d.W, 1u);
    EXPECT_EQ(d.tlbi, 1u);
    EXPECT_EQ(d.tlbi_op(arch::TlbiOp::VALE1IS), 1u);
    EXPECT_EQ(d.dsb_ishst, 1u);
    EXPECT_EQ(d.dsb_ish, 1u);
    EXPECT_EQ(d.isb, 0u);
    const arch::Desc page = pte(va);
    EXPECT_FALSE(arch::desc_special(page));
    EXPECT_TRUE(arch::desc_write(page) && arch::desc_dirty(page));
    EXPECT_FALSE(arch::desc_cont(page));
    EXPECT_EQ(kernel->stats().folios_by_size.at(4096), 1u);  // the copy (order 0, zeroed)

    // The zero-page entry also keeps mTHP away from its block: a write elsewhere in the
    // block gets an order-0 folio.
    mark();
    EXPECT_STREQ(fault(kBlock + 9 * kPage, arch::Access::Store), "anon_folio_order0");
    EXPECT_EQ(delta().W, 1u);
}

TEST_F(KernelScenario, ZeroPageOffMapsAFolioOnRead) {
    KernelConfig c = config();
    c.zero_page = false;
    c.mthp_orders = {4};
    build(c);
    EXPECT_STREQ(fault(kBlock, arch::Access::Load), "anon_folio_large");
    EXPECT_TRUE(arch::desc_valid_cont(pte(kBlock)));
}

TEST_F(KernelScenario, ContpteOffNeverSetsCont) {
    KernelConfig c = config();
    c.contpte = false;
    c.mthp_orders = {4};
    build(c);
    populate_table();
    mark();
    fault(kBlock, arch::Access::Store);
    const Delta d = delta();
    EXPECT_EQ(d.W, 16u);
    EXPECT_EQ(d.blocks_cont, 0u);
    for (unsigned i = 0; i < 16; ++i) EXPECT_FALSE(arch::desc_cont(pte(kBlock + i * kPage)));
}

TEST_F(KernelScenario, MisalignedVmaRangeFallsBackToSmallerOrders) {
    // Scenario 5's rule: an order whose aligned range leaves the VMA is filtered out. The
    // auto layout starts at the second page, so the block holding page 1 cannot be 64K.
    KernelConfig c = config();
    c.mthp_orders = {2, 4};  // 16K and 64K
    build(c);
    EXPECT_STREQ(fault(0x1000, arch::Access::Store), "anon_folio_order0");  // 16K at 0 leaves the VMA too
    EXPECT_STREQ(fault(0x4000, arch::Access::Store), "anon_folio_large");
    EXPECT_EQ(kernel->stats().folios_by_size.at(16384), 1u);
    EXPECT_EQ(kernel->stats().folios_by_size.count(65536), 0u);
}

TEST_F(KernelScenario, FirstFaultAllocatesTablesWithBarriers) {
    build(config());
    mark();
    fault(kBlock, arch::Access::Store);
    const Delta d = delta();
    // PUD, PMD and PTE tables: three table stores (set_pgd/set_pud/set_pmd), each followed by
    // DSB.ISHST + ISB; no lockless read (no PTE table yet), then re-check + set_ptes.
    EXPECT_EQ(kernel->stats().tables_allocated, 5u);  // with the PGDs of the process and of init_mm
    EXPECT_EQ(d.dsb_ishst, 3u);
    EXPECT_EQ(d.isb, 3u);
    EXPECT_EQ(d.R, 2u);
    EXPECT_EQ(d.W, 1u);
}

TEST_F(KernelScenario, FaultOutsideEveryMappingIsSigsegv) {
    build(config());
    EXPECT_THROW(fault(0x0, arch::Access::Load), KernelError);
    try {
        fault(0x10, arch::Access::Store);
    } catch (const KernelError& e) {
        EXPECT_NE(std::string(e.what()).find("SIGSEGV"), std::string::npos);
        EXPECT_NE(std::string(e.what()).find("0x10"), std::string::npos);
    }
}

}  // namespace
}  // namespace mmusim::kernel::testing
