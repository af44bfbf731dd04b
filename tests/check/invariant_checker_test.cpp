// The page-table invariant checker (models/check): each rule it enforces, shown by breaking
// the tables or a TLB behind the kernel's back, and the fold-scanner bug it was written for
// (kernel.contpte false with fold_policy "scanner" folded blocks and let a store through a
// page mprotect had made read-only).
#include "tests/kernel/scenario_fixture.h"

#include "models/kernel/pte.h"
#include "sim/run.h"
#include "tests/sim/sim_test_util.h"

namespace mmusim::kernel::testing {
namespace {

using namespace arch::bits;
constexpr std::uint64_t kBase = KernelScenario::kScriptBase;
constexpr std::uint64_t kPage = 4096;

class InvariantChecker : public KernelScenario {
protected:
    // The checker's verdict on the state now: "" when it holds, else the message.
    std::string verdict(const std::string& op = "test") {
        try {
            checker->after_op(op);
        } catch (const check::InvariantViolation& e) {
            return e.what();
        }
        return "";
    }
    void poke(std::uint64_t va, arch::Desc d) { mem->poke(pte_pa(va), d); }
    // A 2 MiB anonymous VMA at kBase with one order-0 page mapped, written, at its start.
    void single_page() {
        KernelConfig c = scripted();
        c.mthp_orders = {};
        build(c);
        ASSERT_EQ(mmap_anon(kBase, 2u << 20), 0);
        ASSERT_STREQ(fault(kBase, arch::Access::Store), "anon_folio_order0");
    }
    // Puts the tables back as the kernel left them, so that TearDown's final check passes.
    void restore(std::uint64_t va, arch::Desc d) { poke(va, d); }
};

TEST_F(InvariantChecker, HoldsOnWhatTheKernelBuilds) {
    folded_block(scripted());
    EXPECT_EQ(verdict(), "");
    EXPECT_GT(checker->ops_checked(), 0u);  // the mmap and the fault were checked already
}

TEST_F(InvariantChecker, ContBitWithContpteOff) {
    KernelConfig c = scripted();
    c.contpte = false;
    build(c);
    ASSERT_EQ(mmap_anon(kBase, 2u << 20), 0);
    fault(kBase, arch::Access::Store);
    const arch::Desc e = pte(kBase);
    poke(kBase, e | kCont);
    const std::string v = verdict("mprotect");
    EXPECT_NE(v.find("page-table invariant broken after mprotect"), std::string::npos) << v;
    EXPECT_NE(v.find("kernel built without contpte"), std::string::npos) << v;
    EXPECT_NE(v.find("VA 0x40000000"), std::string::npos) << v;
    restore(kBase, e);
}

TEST_F(InvariantChecker, FoldedBlockWithAGapWrongPfnOrOtherAttributes) {
    folded_block(scripted());
    const std::uint64_t va = kBase + 5 * kPage;
    const arch::Desc e = pte(va);
    struct Case {
        arch::Desc value;
        const char* why;
    };
    const Case cases[] = {
        {0, "is not valid with PTE_CONT"},
        {e & ~kCont, "is not valid with PTE_CONT"},
        {arch::desc_with_pfn(e, arch::desc_pfn(e, 12) + 1, 12), "PFNs are not consecutive"},
        {(e & ~kDbm) | kRdonly, "differ in more than access and dirty state"},
        {e ^ kPxn, "differ in more than access and dirty state"},
    };
    for (const Case& k : cases) {
        poke(va, k.value);
        const std::string v = verdict();
        EXPECT_NE(v.find(k.why), std::string::npos) << v;
        EXPECT_NE(v.find("the block at VA 0x40000000 holds ["), std::string::npos) << v;
    }
    // Access and dirty state may differ; so may RDONLY where the hardware dirtied one entry.
    poke(va, arch::desc_mkold(e));
    EXPECT_EQ(verdict(), "");
    poke(va, arch::desc_mkclean(e));
    EXPECT_EQ(verdict(), "");
    restore(va, e);
}

TEST_F(InvariantChecker, FoldedBlockWithAMisalignedFirstPfn) {
    folded_block(scripted());
    std::vector<arch::Desc> saved;
    for (unsigned i = 0; i < 16; ++i) {
        saved.push_back(pte(kBase + i * kPage));
        poke(kBase + i * kPage, arch::desc_with_pfn(saved[i], arch::desc_pfn(saved[i], 12) + 1, 12));
    }
    EXPECT_NE(verdict().find("first PFN is not CONT_PTES aligned"), std::string::npos);
    for (unsigned i = 0; i < 16; ++i) restore(kBase + i * kPage, saved[i]);
}

TEST_F(InvariantChecker, ProtNoneEntriesMayKeepTheContBit) {
    // v6.17 NUMA scan of a folded block: sixteen PROT_NONE entries written with PTE_CONT.
    folded_block(scripted());
    ASSERT_EQ(range_call(SyscallOp::NumaScan, kBase, 64 * 1024), 0);
    ASSERT_TRUE(pte_protnone(pte(kBase)));
    EXPECT_EQ(verdict(), "");
}

TEST_F(InvariantChecker, WritableOrExecutableEntryInAVmaThatForbidsIt) {
    single_page();
    Vma& vma = *kernel->mm().find_vma(kBase);
    vma.flags.write = false;
    EXPECT_NE(verdict().find("a writable entry in a VMA without write permission"), std::string::npos);
    vma.flags.write = true;
    const arch::Desc e = pte(kBase);
    poke(kBase, e & ~kUxn);
    EXPECT_NE(verdict().find("an EL0-executable entry in a VMA without exec permission"), std::string::npos);
    restore(kBase, e);
    vma.flags.read = vma.flags.write = vma.flags.exec = false;
    EXPECT_NE(verdict().find("an accessible entry in a PROT_NONE VMA"), std::string::npos);
    vma.flags.read = vma.flags.write = true;
}

TEST_F(InvariantChecker, PresentEntryOutsideEveryVma) {
    folded_block(scripted());
    Mm& mm = kernel->mm();
    const Vma vma = mm.vmas.at(kBase);
    mm.vmas.erase(kBase);
    const std::string v = verdict();
    EXPECT_NE(v.find("outside every VMA"), std::string::npos) << v;
    mm.vmas.emplace(kBase, vma);
}

TEST_F(InvariantChecker, SwapEntryNamingAFreeSlot) {
    KernelConfig c = scripted();
    c.swap_bytes = 64u << 20;
    folded_block(c);
    ASSERT_EQ(madvise(kBase, 16 * kPage, Advice::PageOut), 0);
    EXPECT_EQ(verdict(), "");
    // The entry of page 2 pointed one slot past the folio's last: a slot nobody took.
    const arch::Desc e = pte(kBase + 2 * kPage);
    poke(kBase + 2 * kPage, pte_move_swp_offset(e, 100));
    const std::string v = verdict();
    EXPECT_NE(v.find("a swap entry whose slot"), std::string::npos) << v;
    EXPECT_NE(v.find("has no reference"), std::string::npos) << v;
    restore(kBase + 2 * kPage, e);
}

TEST_F(InvariantChecker, ContOnABlockEntryOrOnAKernelMapping) {
    folded_block(scripted());
    // A PMD leaf of the user tables with PTE_CONT.
    const arch::Geometry& g = arch::geometry(arch::Granule::K4);
    std::uint64_t table = kernel->mm().pgd_pa;
    for (unsigned level = g.start_level; level < 2; ++level)
        table = arch::desc_oa(mem->peek(table + g.index(kBase + (4u << 20), level) * 8), 12);
    const std::uint64_t pmd = table + g.index(kBase + (4u << 20), 2) * 8;
    ASSERT_EQ(mem->peek(pmd), 0u);
    mem->poke(pmd, arch::desc_with_pfn(kValid | kAf | kUser | kNg | kCont, 0x200, 12));
    EXPECT_NE(verdict().find("PTE_CONT on a 2M block entry"), std::string::npos);
    mem->poke(pmd, 0);
    // A kernel PTE (a vmalloc-like mapping) with PTE_CONT.
    KernelConfig c = scripted();
    c.debug_pagealloc = true;
    build(c);
    ASSERT_EQ(mmap_anon(kBase, 2u << 20), 0);
    fault(kBase, arch::Access::Store);
    const Mm& init = *kernel->init_mm();
    const std::uint64_t pfn = arch::desc_pfn(pte(kBase), 12);
    const std::uint64_t va = kernel->kernel_mappings().linear_va(pfn);
    table = init.pgd_pa;
    for (unsigned level = g.start_level; level < 3; ++level) table = arch::desc_oa(mem->peek(table + g.index(va, level) * 8), 12);
    const std::uint64_t ptep = table + g.index(va, 3) * 8;
    const arch::Desc k = mem->peek(ptep);
    ASSERT_TRUE(arch::desc_valid(k));
    mem->poke(ptep, k | kCont);
    const std::string v = verdict();
    EXPECT_NE(v.find("init_mm"), std::string::npos) << v;
    EXPECT_NE(v.find("PTE_CONT on a kernel mapping"), std::string::npos) << v;
    mem->poke(ptep, k);
}

TEST_F(InvariantChecker, TlbEntryGrantingMoreThanTheDescriptor) {
    single_page();
    const std::uint64_t va = kBase;
    ASSERT_EQ(translate(va, arch::Access::Store).fault, arch::FaultKind::None);
    const arch::Desc e = pte(va);
    // Made read-only (and clean) without a TLBI: the cached dirty, writable entry still
    // lets a store through.
    poke(va, (e & ~kDbm & ~kSwDirty) | kRdonly);
    std::string v = verdict("mprotect");
    EXPECT_NE(v.find("allowing a store that the descriptor forbids"), std::string::npos) << v;
    EXPECT_NE(v.find("core 0's l1d holds a 4K entry at VA 0x40000000"), std::string::npos) << v;
    // Cleared: the entry maps a page that is not mapped any more.
    poke(va, 0);
    v = verdict();
    EXPECT_NE(v.find("although the page is not mapped"), std::string::npos) << v;
    // Another page: the entry translates to the old one.
    poke(va, arch::desc_with_pfn(e, arch::desc_pfn(e, 12) + 100, 12));
    v = verdict();
    EXPECT_NE(v.find("translating to another page than the descriptor"), std::string::npos) << v;
    // An entry that allows less than the descriptor is a spurious fault at worst.
    restore(va, e);
    ASSERT_EQ(mprotect(va, kPage, kProtRead), 0);
    ASSERT_EQ(translate(va, arch::Access::Load).fault, arch::FaultKind::None);
    const arch::Desc read_only = pte(va);
    Vma& vma = *kernel->mm().find_vma(va);
    vma.flags.write = true;
    poke(va, e);
    EXPECT_EQ(verdict(), "");
    vma.flags.write = false;
    restore(va, read_only);
}

TEST_F(InvariantChecker, WalkCacheEntryPointingAtATableThatMoved) {
    walk_cache = mmu::WalkCacheConfig{16, 4, 0b111, 2};
    single_page();
    ASSERT_EQ(translate(kBase, arch::Access::Load).fault, arch::FaultKind::None);  // caches levels 0-2
    // A copy of the PTE table at another page, and the PMD entry pointed at it without a
    // TLBI: every translation is the same, but the walk cache still names the old table.
    const arch::Geometry& g = arch::geometry(arch::Granule::K4);
    const std::uint64_t pmd = kernel->tables().pmd_lookup(kernel->mm(), kBase);
    const arch::Desc old_pmd = mem->peek(pmd);
    const std::uint64_t old_table = arch::desc_oa(old_pmd, 12);
    const std::uint64_t copy = kernel->tables().pte_alloc_one();
    for (std::uint64_t i = 0; i < g.ptrs_per_table(); ++i) mem->poke(copy + 8 * i, mem->peek(old_table + 8 * i));
    mem->poke(pmd, arch::make_table_desc(copy));
    const std::string v = verdict("mremap");
    EXPECT_NE(v.find("core 0's walk cache holds a level-2 table descriptor for VA 0x40000000"), std::string::npos) << v;
    mem->poke(pmd, old_pmd);
    for (std::uint64_t i = 0; i < g.ptrs_per_table(); ++i) mem->poke(copy + 8 * i, 0);
    kernel->tables().pte_free(copy);
}

TEST_F(InvariantChecker, TheFoldedBlocksTlbEntryIsCheckedPageByPage) {
    folded_block(scripted());
    ASSERT_EQ(translate(kBase, arch::Access::Store).fault, arch::FaultKind::None);
    const std::uint64_t va = kBase + 9 * kPage;
    const arch::Desc e = pte(va);
    poke(va, (e & ~kDbm) | kRdonly);  // the block is broken too: ask for the TLB check alone
    std::string v;
    try {
        checker->check_tlbs("mprotect");
    } catch (const check::InvariantViolation& x) {
        v = x.what();
    }
    EXPECT_NE(v.find("VA 0x40009000"), std::string::npos) << v;
    EXPECT_NE(v.find("a 64K entry at VA 0x40000000"), std::string::npos) << v;
    restore(va, e);
}

// ---- the fold scanner with contpte off (the bug this checker was written for) -------------

nlohmann::json scanner_config(bool store_to_read_only) {
    nlohmann::json ops = nlohmann::json::array(
        {{{"op", "mmap"}, {"region", "heap"}, {"prot", "rw"}},
         {{"op", "access"}, {"region", "heap"}, {"stride", "4K"}, {"mix", "store"}},
         {{"op", "loop"}, {"count", 4}, {"ops", {{{"op", "access"}, {"region", "heap"}, {"stride", "4K"}, {"mix", "load"}}}}},
         {{"op", "mprotect"}, {"region", "heap"}, {"offset", "60K"}, {"size", "4K"}, {"prot", "r"}},
         {{"op", "access"}, {"region", "heap"}, {"stride", "4K"}, {"mix", "load"}}});
    if (store_to_read_only)
        ops.push_back({{"op", "access"}, {"region", "heap"}, {"offset", "60K"}, {"size", "4K"}, {"mix", "store"}});
    return {{"kernel", {{"mthp", {"64K"}}, {"contpte", false}, {"fold_policy", "scanner"},
                        {"fold_scanner", {{"interval", 1000}}}}},
            {"workload", {{"script", {{"regions", {{{"name", "heap"}, {"size", "2M"}}}}, {"ops", ops}}}}}};
}

TEST(FoldScannerContpteOff, NeverFoldsAndTheReadOnlyPageFaults) {
    const sim::testing::TempDir dir;
    const nlohmann::json stats = sim::testing::run_json(dir, scanner_config(false));
    const nlohmann::json& contpte = stats["kernel"]["contpte"];
    EXPECT_EQ(contpte["folds"], 0);
    EXPECT_EQ(contpte["blocks_mapped_cont"], 0);
    EXPECT_EQ(contpte["scanner"]["passes"], 0);  // a kernel without contpte has no such thread
    // The store to the read-only page is a SIGSEGV, as Linux delivers it.
    try {
        (void)sim::testing::run_json(dir, scanner_config(true));
        ADD_FAILURE() << "the store to a read-only page succeeded";
    } catch (const sim::RunError& e) {
        EXPECT_NE(std::string(e.what()).find("SIGSEGV: store permission fault at VA 0x1000f000"), std::string::npos) << e.what();
    }
    // With contpte the scanner folds the blocks the 64K folios were mapped without.
    nlohmann::json on = scanner_config(false);
    on["kernel"]["contpte"] = true;
    const nlohmann::json with = sim::testing::run_json(dir, on);
    EXPECT_GT(with["kernel"]["contpte"]["scanner"]["passes"].get<int>(), 0);
}

TEST_F(InvariantChecker, ScannerPassWithContpteOffReadsAndFoldsNothing) {
    // Called directly (as a test or a future caller might), a pass with contpte off reads
    // nothing and folds nothing.
    KernelConfig c = scripted();
    c.contpte = false;
    c.fold_policy = kernel::FoldPolicy::Scanner;
    build(c);
    ASSERT_EQ(mmap_anon(kBase, 2u << 20), 0);
    for (unsigned i = 0; i < 16; ++i) fault(kBase + i * kPage, arch::Access::Store);
    mark();
    kernel->fold_scan();
    EXPECT_EQ(delta().folds, 0u);
    EXPECT_EQ(delta().R, 0u);
    for (unsigned i = 0; i < 16; ++i) EXPECT_FALSE(arch::desc_cont(pte(kBase + i * kPage))) << i;
}

}  // namespace
}  // namespace mmusim::kernel::testing
