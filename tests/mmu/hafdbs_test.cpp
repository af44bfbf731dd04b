// Hardware access-flag and dirty-state management (FEAT_HAFDBS, spec/mmu.md §1): the update
// is an atomic read-modify-write of the one descriptor used, performed only while that
// descriptor still allows it; a level-3 page, a folded contiguous block and a PMD block, each
// with and without the feature (spec/kernel.md §6.4: without it the kernel fixes the entry).
#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "models/arch/descriptor.h"
#include "models/kernel/pte.h"
#include "models/mmu/walker.h"
#include "tests/kernel/scenario_fixture.h"

namespace mmusim::mmu {
namespace {

using namespace arch::bits;

// Descriptor memory where another agent (the kernel on another CPU) changes one word just
// before the walker's first compare-and-swap lands: the walker then finds a value other than
// the one it read.
class RacingMemory : public DescriptorPort {
public:
    std::map<std::uint64_t, std::uint64_t> words;
    std::optional<std::pair<std::uint64_t, std::uint64_t>> race;  // (pa, value) written once
    unsigned cas = 0;
    std::uint64_t read_descriptor(std::uint64_t pa, sc_core::sc_time&) override {
        return words.count(pa) ? words[pa] : 0;
    }
    std::uint64_t cas_descriptor(std::uint64_t pa, std::uint64_t expected, std::uint64_t value, sc_core::sc_time&) override {
        ++cas;
        if (race) {
            words[race->first] = race->second;
            race.reset();
        }
        const std::uint64_t old = words[pa];
        if (old == expected) words[pa] = value;
        return old;
    }
};

constexpr arch::Desc kUserRw = kValid | kType | kUser | kShInner | kAf | kNg | kDbm | kPxn;
// Writable-clean (DBM=1, RDONLY=1) and old.
constexpr arch::Desc kCleanOld = (kUserRw & ~kAf) | kRdonly;

class HafdbsWalker : public ::testing::Test {
protected:
    static constexpr std::uint64_t kPgd = 0x1000, kPud = 0x2000, kPmd = 0x3000, kPte = 0x4000;
    static constexpr std::uint64_t kVa = 0x40201000;  // L0 0, L1 1, L2 1, L3 1
    static constexpr std::uint64_t kLeaf = kPte + 8;
    RacingMemory mem;
    sc_core::sc_time delay;

    void SetUp() override {
        mem.words[kPgd] = arch::make_table_desc(kPud);
        mem.words[kPud + 8] = arch::make_table_desc(kPmd);
        mem.words[kPmd + 8] = arch::make_table_desc(kPte);
    }
    WalkResult walk(arch::Access access) {
        Walker w(WalkerConfig{}, mem);
        return w.walk(kVa, kPgd, access, delay);
    }
};

TEST_F(HafdbsWalker, AWriteProtectRacingTheDirtyUpdateMakesThePermissionFault) {
    // fork's wrprotect (DBM cleared, RDONLY set) lands between the walker's read and its
    // update: the store must not make the page writable.
    mem.words[kLeaf] = kCleanOld | 0x77000;
    const arch::Desc wrprotected = (kCleanOld & ~kDbm) | 0x77000;
    mem.race = {{kLeaf, wrprotected}};
    const WalkResult r = walk(arch::Access::Store);
    EXPECT_EQ(r.fault, arch::FaultKind::Permission);
    EXPECT_EQ(r.level, 3u);
    EXPECT_EQ(mem.words[kLeaf], wrprotected);
    EXPECT_EQ(mem.cas, 1u);
}

TEST_F(HafdbsWalker, AClearRacingTheUpdateMakesATranslationFault) {
    mem.words[kLeaf] = kCleanOld | 0x77000;
    mem.race = {{kLeaf, 0}};
    const WalkResult r = walk(arch::Access::Load);
    EXPECT_EQ(r.fault, arch::FaultKind::Translation);
    EXPECT_EQ(r.level, 3u);
    EXPECT_EQ(mem.words[kLeaf], 0u);  // nothing written into the cleared entry
    EXPECT_EQ(mem.cas, 1u);
}

TEST_F(HafdbsWalker, AnUpdateAlreadyDoneByAnotherAgentIsNotRepeated) {
    // Another CPU's walker set AF and cleared RDONLY first: nothing is left to do.
    mem.words[kLeaf] = kCleanOld | 0x77000;
    const arch::Desc done = (kCleanOld | kAf | 0x77000) & ~kRdonly;
    mem.race = {{kLeaf, done}};
    const WalkResult r = walk(arch::Access::Store);
    EXPECT_EQ(r.fault, arch::FaultKind::None);
    EXPECT_EQ(mem.cas, 1u);
    EXPECT_FALSE(r.af_updated);
    EXPECT_FALSE(r.dirty_updated);
    EXPECT_EQ(r.desc, done);
    EXPECT_EQ(mem.words[kLeaf], done);
}

TEST_F(HafdbsWalker, AnUnrelatedConcurrentChangeIsKeptAndTheUpdateRetried) {
    // Software changed a software bit only: the update is applied to the new value.
    mem.words[kLeaf] = kCleanOld | 0x77000;
    mem.race = {{kLeaf, kCleanOld | kSwDirty | 0x77000}};
    const WalkResult r = walk(arch::Access::Store);
    EXPECT_EQ(r.fault, arch::FaultKind::None);
    EXPECT_EQ(mem.cas, 2u);
    EXPECT_TRUE(r.af_updated);
    EXPECT_TRUE(r.dirty_updated);
    EXPECT_EQ(mem.words[kLeaf], ((kCleanOld | kSwDirty | kAf) & ~kRdonly) | 0x77000);
    EXPECT_EQ(r.desc, mem.words[kLeaf]);
}

TEST_F(HafdbsWalker, ATranslationChangedDuringTheUpdateIsTheOneUsed) {
    // The page was replaced (break-before-make finished on another CPU) between the read and
    // the update: the walk result follows the descriptor that was updated.
    mem.words[kLeaf] = kCleanOld | 0x77000;
    mem.race = {{kLeaf, kCleanOld | 0x99000}};
    const WalkResult r = walk(arch::Access::Load);
    EXPECT_EQ(r.fault, arch::FaultKind::None);
    EXPECT_EQ(r.region_pa, 0x99000u);
    EXPECT_EQ(mem.words[kLeaf], kCleanOld | kAf | 0x99000);
}

TEST_F(HafdbsWalker, SetDirtyUpdatesOnlyAWritableCleanDescriptor) {
    Walker w(WalkerConfig{}, mem);
    // Still writable-clean: RDONLY cleared (and AF set, if the entry was aged meanwhile).
    mem.words[kLeaf] = kCleanOld | 0x77000;
    HwUpdate u = w.set_dirty(kLeaf, 3, delay);
    EXPECT_EQ(u.fault, arch::FaultKind::None);
    EXPECT_TRUE(u.dirty_updated);
    EXPECT_TRUE(u.af_updated);
    EXPECT_EQ(mem.words[kLeaf], ((kCleanOld | kAf) & ~kRdonly) | 0x77000);
    EXPECT_EQ(mem.cas, 1u);
    // Already dirty: nothing to write.
    u = w.set_dirty(kLeaf, 3, delay);
    EXPECT_EQ(u.fault, arch::FaultKind::None);
    EXPECT_FALSE(u.dirty_updated);
    EXPECT_EQ(mem.cas, 1u);
    // Write-protected (DBM clear): a permission fault, the descriptor untouched.
    const arch::Desc wrprotected = (kUserRw & ~kDbm) | kRdonly | 0x77000;
    mem.words[kLeaf] = wrprotected;
    u = w.set_dirty(kLeaf, 3, delay);
    EXPECT_EQ(u.fault, arch::FaultKind::Permission);
    EXPECT_EQ(mem.words[kLeaf], wrprotected);
    // Invalid: a translation fault, nothing written.
    mem.words[kLeaf] = 0;
    u = w.set_dirty(kLeaf, 3, delay);
    EXPECT_EQ(u.fault, arch::FaultKind::Translation);
    EXPECT_EQ(mem.words[kLeaf], 0u);
    // A table where a level-2 block was: no longer the leaf the entry was filled from.
    mem.words[kPmd + 8] = arch::make_table_desc(kPte);
    u = w.set_dirty(kPmd + 8, 2, delay);
    EXPECT_EQ(u.fault, arch::FaultKind::Translation);
    EXPECT_EQ(mem.cas, 1u);
}

}  // namespace
}  // namespace mmusim::mmu

namespace mmusim::kernel::testing {
namespace {

using namespace arch::bits;

constexpr std::uint64_t kBlock = KernelScenario::kScriptBase;
constexpr std::uint64_t kPage = 4096;
constexpr std::uint64_t kPmdSize = 2u << 20;

// The MMU and kernel together: accesses go through the TLBs and the walker as a core sends
// them, and a fault goes to the kernel before the access is tried again.
class Hafdbs : public KernelScenario {
protected:
    // Faults taken by one access (handler paths, in order) until it succeeds.
    std::vector<std::string> access(std::uint64_t va, arch::Access a) {
        std::vector<std::string> paths;
        for (unsigned attempt = 0; attempt < 4; ++attempt) {
            const mmu::TranslationExt r = translate(va, a);
            if (r.fault == arch::FaultKind::None) return paths;
            paths.emplace_back(kernel_fault(va, a, r.fault));
        }
        ADD_FAILURE() << "the access at 0x" << std::hex << va << " still faults";
        return paths;
    }
    // The kernel's fault entry, counted as a core's fault is (kernel.faults).
    const char* kernel_fault(std::uint64_t va, arch::Access a, arch::FaultKind kind) {
        return kernel->fault(0, FaultRequest{va, a, kind, 3});
    }
    void mark_mmu() {
        mmu_before = mmu_->stats();
        pmu_before = mmu_->pmu();
        faults_before = kernel->stats().faults_total;
    }
    std::uint64_t hw_af() const { return mmu_->stats().hw_access_flag_updates - mmu_before.hw_access_flag_updates; }
    std::uint64_t hw_dirty() const { return mmu_->stats().hw_dirty_updates - mmu_before.hw_dirty_updates; }
    std::uint64_t mmu_faults() const { return mmu_->stats().faults - mmu_before.faults; }
    std::uint64_t kernel_faults() const { return kernel->stats().faults_total - faults_before; }
    std::uint64_t walks() const { return mmu_->pmu().DTLB_WALK - pmu_before.DTLB_WALK; }

    std::vector<arch::Desc> block_entries() const {
        std::vector<arch::Desc> v;
        for (unsigned i = 0; i < 16; ++i) v.push_back(pte(kBlock + i * kPage));
        return v;
    }
    // The kernel's view of entry i: ptep_get gathers young/dirty over a folded block.
    arch::Desc kernel_view(unsigned i) { return kernel->pgtable().ptep_get(pte_pa(kBlock + i * kPage)); }
    int reclaim(std::uint64_t len) { return range_call(SyscallOp::Reclaim, kBlock, len); }
    int madv_free(std::uint64_t len) { return madvise(kBlock, len, Advice::Free); }

    mmu::MmuStats mmu_before;
    mmu::PmuCounters pmu_before;
    std::uint64_t faults_before = 0;
};

KernelConfig with_hafdbs(KernelConfig c, bool hafdbs) {
    c.hafdbs = hafdbs;
    return c;
}

// --- A folded 64K block (mTHP) ---------------------------------------------------------------

TEST_F(Hafdbs, LoadThroughAnOldFoldedBlockSetsTheAccessFlagInTheUsedDescriptorOnly) {
    folded_block(scripted());
    ASSERT_EQ(reclaim(16 * kPage), 0);
    const std::vector<arch::Desc> old = block_entries();
    for (unsigned i = 0; i < 16; ++i) ASSERT_FALSE(arch::desc_young(old[i])) << i;
    EXPECT_FALSE(arch::desc_young(kernel_view(0)));
    mark_mmu();
    EXPECT_TRUE(access(kBlock + 6 * kPage, arch::Access::Load).empty());
    EXPECT_EQ(hw_af(), 1u);
    EXPECT_EQ(hw_dirty(), 0u);
    EXPECT_EQ(walks(), 1u);
    EXPECT_EQ(mmu_faults(), 0u);
    EXPECT_EQ(kernel_faults(), 0u);
    const std::vector<arch::Desc> now = block_entries();
    EXPECT_EQ(now[6], old[6] | kAf);
    for (unsigned i = 0; i < 16; ++i) {
        if (i != 6) {
            EXPECT_EQ(now[i], old[i]) << i;
        }
    }
    // The rest of the block hits the one 64K entry: no walk, no further update.
    for (unsigned i = 0; i < 16; ++i) EXPECT_TRUE(access(kBlock + i * kPage, arch::Access::Load).empty());
    EXPECT_EQ(walks(), 1u);
    EXPECT_EQ(hw_af(), 1u);
    // The kernel sees the whole block young (and still dirty from the first write), from any entry.
    for (unsigned i : {0u, 6u, 15u}) {
        EXPECT_TRUE(arch::desc_young(kernel_view(i))) << i;
        EXPECT_TRUE(arch::desc_dirty(kernel_view(i))) << i;
    }
    EXPECT_TRUE(block_folded());
}

TEST_F(Hafdbs, StoreToAWritableCleanFoldedBlockDirtiesTheUsedDescriptorOnly) {
    folded_block(scripted());
    ASSERT_EQ(madv_free(16 * kPage), 0);  // old and clean, still folded
    ASSERT_TRUE(block_folded());
    const std::vector<arch::Desc> clean = block_entries();
    for (unsigned i = 0; i < 16; ++i) {
        ASSERT_TRUE(arch::desc_write(clean[i]) && arch::desc_rdonly(clean[i]) && !arch::desc_young(clean[i])) << i;
    }
    EXPECT_FALSE(arch::desc_dirty(kernel_view(0)));
    EXPECT_FALSE(arch::desc_young(kernel_view(0)));
    mark_mmu();
    EXPECT_TRUE(access(kBlock + 6 * kPage, arch::Access::Store).empty());
    EXPECT_EQ(hw_af(), 1u);
    EXPECT_EQ(hw_dirty(), 1u);
    EXPECT_EQ(walks(), 1u);
    EXPECT_EQ(mmu_faults(), 0u);
    EXPECT_EQ(kernel_faults(), 0u);
    const std::vector<arch::Desc> now = block_entries();
    EXPECT_EQ(now[6], (clean[6] | kAf) & ~kRdonly);
    for (unsigned i = 0; i < 16; ++i) {
        if (i != 6) {
            EXPECT_EQ(now[i], clean[i]) << i;
        }
    }
    // Stores to the rest of the block hit the 64K entry, now writable: nothing more.
    for (unsigned i = 0; i < 16; ++i) EXPECT_TRUE(access(kBlock + i * kPage, arch::Access::Store).empty());
    EXPECT_EQ(walks(), 1u);
    EXPECT_EQ(hw_dirty(), 1u);
    EXPECT_EQ(block_entries(), now);
    for (unsigned i : {0u, 6u, 15u}) {
        EXPECT_TRUE(arch::desc_young(kernel_view(i))) << i;
        EXPECT_TRUE(arch::desc_dirty(kernel_view(i))) << i;
    }
}

TEST_F(Hafdbs, StoreThroughACachedCleanBlockEntryDirtiesTheDescriptorTheWalkUsed) {
    folded_block(scripted());
    ASSERT_EQ(madv_free(16 * kPage), 0);
    const std::vector<arch::Desc> clean = block_entries();
    mark_mmu();
    EXPECT_TRUE(access(kBlock + 3 * kPage, arch::Access::Load).empty());  // walk: AF in entry 3
    EXPECT_TRUE(access(kBlock + 9 * kPage, arch::Access::Store).empty());  // TLB hit, writable-clean
    EXPECT_EQ(walks(), 1u);
    EXPECT_EQ(hw_af(), 1u);
    EXPECT_EQ(hw_dirty(), 1u);
    const std::vector<arch::Desc> now = block_entries();
    EXPECT_EQ(now[3], (clean[3] | kAf) & ~kRdonly);
    for (unsigned i = 0; i < 16; ++i) {
        if (i != 3) {
            EXPECT_EQ(now[i], clean[i]) << i;
        }
    }
    EXPECT_TRUE(arch::desc_dirty(kernel_view(9)));
    EXPECT_TRUE(arch::desc_young(kernel_view(9)));
}

TEST_F(Hafdbs, WithoutHafdbsAnOldFoldedBlockTakesOneAccessFlagFaultThatAgesNothingBack) {
    folded_block(with_hafdbs(scripted(), false));
    ASSERT_EQ(reclaim(16 * kPage), 0);
    mark();
    mark_mmu();
    EXPECT_EQ(access(kBlock + 6 * kPage, arch::Access::Load), std::vector<std::string>{"access_flag"});
    const Delta d = delta();
    EXPECT_EQ(mmu_faults(), 1u);
    EXPECT_EQ(kernel_faults(), 1u);
    EXPECT_EQ(kernel->stats().faults_by_kind.at("access_flag"), 1u);
    EXPECT_EQ(hw_af(), 0u);
    EXPECT_EQ(walks(), 2u);  // the faulting walk and the one after the fix-up
    EXPECT_EQ(d.C, 16u);     // all N entries get AF
    EXPECT_EQ(d.converts, 0u);
    EXPECT_EQ(d.tlbi, 0u);   // not a dirty update: no flush
    EXPECT_TRUE(block_folded());
    for (unsigned i = 0; i < 16; ++i) EXPECT_TRUE(arch::desc_young(pte(kBlock + i * kPage))) << i;
    for (unsigned i = 0; i < 16; ++i) EXPECT_TRUE(access(kBlock + i * kPage, arch::Access::Load).empty());
    EXPECT_EQ(mmu_faults(), 1u);
}

TEST_F(Hafdbs, WithoutHafdbsAStoreToACleanFoldedBlockTakesOneFaultThatDirtiesAllEntries) {
    folded_block(with_hafdbs(scripted(), false));
    ASSERT_EQ(madv_free(16 * kPage), 0);
    mark();
    mark_mmu();
    // Old and clean: the access-flag fault comes first, and the kernel's fix-up for a write
    // makes the block young and dirty at once.
    EXPECT_EQ(access(kBlock + 6 * kPage, arch::Access::Store), std::vector<std::string>{"dirty_fixup"});
    const Delta d = delta();
    EXPECT_EQ(mmu_faults(), 1u);
    EXPECT_EQ(kernel->stats().faults_by_kind.at("access_flag"), 1u);
    EXPECT_EQ(hw_af() + hw_dirty(), 0u);
    EXPECT_EQ(d.C, 16u);
    EXPECT_EQ(d.converts, 0u);
    EXPECT_EQ(d.tlbi_op(arch::TlbiOp::RVALE1IS), 1u);  // the dirty update flushes the block
    EXPECT_TRUE(block_folded());
    for (unsigned i = 0; i < 16; ++i) {
        const arch::Desc e = pte(kBlock + i * kPage);
        EXPECT_TRUE(arch::desc_young(e) && !arch::desc_rdonly(e) && arch::desc_dirty(e)) << i;
    }
}

TEST_F(Hafdbs, WithoutHafdbsAStoreThroughACachedCleanBlockEntryIsAPermissionFault) {
    folded_block(with_hafdbs(scripted(), false));
    ASSERT_EQ(madv_free(16 * kPage), 0);
    mark_mmu();
    EXPECT_EQ(access(kBlock + 3 * kPage, arch::Access::Load), std::vector<std::string>{"access_flag"});
    EXPECT_EQ(access(kBlock + 9 * kPage, arch::Access::Store), std::vector<std::string>{"dirty_fixup"});
    EXPECT_EQ(mmu_faults(), 2u);
    EXPECT_EQ(kernel->stats().faults_by_kind.at("permission"), 1u);
    EXPECT_EQ(hw_af() + hw_dirty(), 0u);
    EXPECT_TRUE(block_folded());
    for (unsigned i = 0; i < 16; ++i) EXPECT_TRUE(arch::desc_dirty(pte(kBlock + i * kPage))) << i;
}

// --- A level-3 page and a PMD block, with and without the feature ---------------------------

enum class Leaf { Page, Pmd };

class HafdbsLeaf : public Hafdbs, public ::testing::WithParamInterface<std::tuple<Leaf, bool>> {
protected:
    Leaf leaf() const { return std::get<0>(GetParam()); }
    bool hw() const { return std::get<1>(GetParam()); }
    void SetUp() override {
        KernelConfig c = scripted();
        c.hafdbs = hw();
        if (leaf() == Leaf::Page) c.mthp_orders.clear();
        else c.thp = KernelConfig::Thp::Always;
        build(c);
        ASSERT_EQ(mmap_anon(kBlock, kPmdSize), 0);
        ASSERT_STREQ(fault(kBlock + 5 * kPage, arch::Access::Store), leaf() == Leaf::Page ? "anon_folio_order0" : "anon_huge_pmd");
        ASSERT_TRUE(arch::desc_young(entry()) && arch::desc_dirty(entry()));
    }
    std::uint64_t len() const { return leaf() == Leaf::Page ? kPage : kPmdSize; }
    // The leaf descriptor of the page at kBlock + 5 pages: its PTE, or the PMD block.
    arch::Desc entry() const {
        if (leaf() == Leaf::Pmd) return mem->peek(kernel->tables().pmd_lookup(kernel->mm(), kBlock));
        return pte(kBlock + 5 * kPage);
    }
    std::uint64_t addr() const { return kBlock + 5 * kPage; }
    const char* fixup(bool write) const {
        if (leaf() == Leaf::Pmd) return "huge_pmd_access_flag";
        return write ? "dirty_fixup" : "access_flag";
    }
};

TEST_P(HafdbsLeaf, LoadThroughAnOldEntry) {
    ASSERT_EQ(range_call(SyscallOp::Reclaim, leaf() == Leaf::Page ? addr() : kBlock, len()), 0);
    const arch::Desc old = entry();
    ASSERT_FALSE(arch::desc_young(old));
    mark_mmu();
    const std::vector<std::string> paths = access(addr(), arch::Access::Load);
    EXPECT_EQ(entry(), old | kAf);  // young, nothing else changed (not made dirty or writable)
    if (hw()) {
        EXPECT_TRUE(paths.empty());
        EXPECT_EQ(hw_af(), 1u);
        EXPECT_EQ(mmu_faults(), 0u);
        EXPECT_EQ(kernel_faults(), 0u);
        EXPECT_EQ(walks(), 1u);
    } else {
        EXPECT_EQ(paths, std::vector<std::string>{fixup(false)});
        EXPECT_EQ(hw_af(), 0u);
        EXPECT_EQ(mmu_faults(), 1u);
        EXPECT_EQ(kernel->stats().faults_by_kind.at("access_flag"), 1u);
        EXPECT_EQ(walks(), 2u);
    }
    EXPECT_EQ(hw_dirty(), 0u);
}

TEST_P(HafdbsLeaf, StoreThroughAWritableCleanEntry) {
    ASSERT_EQ(madvise(leaf() == Leaf::Page ? addr() : kBlock, len(), Advice::Free), 0);
    const arch::Desc clean = entry();
    ASSERT_TRUE(arch::desc_write(clean) && arch::desc_rdonly(clean) && !arch::desc_young(clean));
    ASSERT_FALSE(arch::desc_dirty(clean));
    mark_mmu();
    const std::vector<std::string> paths = access(addr(), arch::Access::Store);
    EXPECT_TRUE(arch::desc_young(entry()));
    EXPECT_TRUE(arch::desc_dirty(entry()));
    if (hw()) {
        EXPECT_TRUE(paths.empty());
        EXPECT_EQ(entry(), (clean | kAf) & ~kRdonly);  // hardware dirty: RDONLY cleared, no SW bit
        EXPECT_EQ(hw_af(), 1u);
        EXPECT_EQ(hw_dirty(), 1u);
        EXPECT_EQ(mmu_faults(), 0u);
        EXPECT_EQ(kernel_faults(), 0u);
        EXPECT_EQ(walks(), 1u);
    } else {
        EXPECT_EQ(paths, std::vector<std::string>{fixup(true)});
        EXPECT_EQ(entry(), (clean | kAf | kSwDirty) & ~kRdonly);
        EXPECT_EQ(hw_af() + hw_dirty(), 0u);
        EXPECT_EQ(mmu_faults(), 1u);
        EXPECT_EQ(kernel_faults(), 1u);
        EXPECT_EQ(walks(), 2u);
    }
}

INSTANTIATE_TEST_SUITE_P(Hafdbs, HafdbsLeaf,
                         ::testing::Combine(::testing::Values(Leaf::Page, Leaf::Pmd), ::testing::Bool()),
                         [](const ::testing::TestParamInfo<std::tuple<Leaf, bool>>& i) {
                             return std::string(std::get<0>(i.param) == Leaf::Page ? "Page" : "Pmd") +
                                    (std::get<1>(i.param) ? "Hardware" : "Software");
                         });

// --- A stale writable-clean TLB entry whose descriptor changed ------------------------------

// The kernel changed the descriptor without invalidating the TLB yet (fork write-protects the
// parent's entries and flushes once at its end; a clear is flushed after it): a store through
// the cached writable-clean entry must not clear RDONLY in what memory now holds.
class HafdbsStaleEntry : public Hafdbs {
protected:
    // One order-0 page, writable-clean and cached (young) in the L1D and L2 TLBs.
    void cached_clean_page() {
        KernelConfig c = scripted();
        c.mthp_orders.clear();
        build(c);
        ASSERT_EQ(mmap_anon(kBlock, kPmdSize), 0);
        ASSERT_STREQ(fault(kBlock, arch::Access::Store), "anon_folio_order0");
        ASSERT_EQ(madvise(kBlock, kPage, Advice::Free), 0);
        ASSERT_TRUE(access(kBlock, arch::Access::Load).empty());
        ASSERT_TRUE(arch::desc_write(pte(kBlock)) && arch::desc_rdonly(pte(kBlock)));
    }
};

TEST_F(HafdbsStaleEntry, StoreAfterAWriteProtectIsAPermissionFault) {
    cached_clean_page();
    kernel->pgtable().__ptep_set_wrprotect(pte_pa(kBlock));  // no TLBI
    const arch::Desc wrprotected = pte(kBlock);
    ASSERT_FALSE(arch::desc_write(wrprotected));
    mark_mmu();
    const mmu::TranslationExt r = translate(kBlock + 8, arch::Access::Store);
    EXPECT_EQ(r.fault, arch::FaultKind::Permission);
    EXPECT_EQ(r.fault_level, 3u);
    EXPECT_EQ(pte(kBlock), wrprotected);  // still read-only
    EXPECT_EQ(hw_dirty(), 0u);
    EXPECT_EQ(mmu_faults(), 1u);
    EXPECT_EQ(walks(), 0u);  // a TLB hit
    // The kernel resolves it (the page is exclusive: reused, with a page TLBI), then the
    // store goes through.
    EXPECT_STREQ(kernel_fault(kBlock + 8, arch::Access::Store, r.fault), "wp_reuse");
    EXPECT_TRUE(access(kBlock + 8, arch::Access::Store).empty());
    EXPECT_TRUE(arch::desc_write(pte(kBlock)) && arch::desc_dirty(pte(kBlock)));
}

TEST_F(HafdbsStaleEntry, StoreAfterAClearIsATranslationFault) {
    cached_clean_page();
    (void)kernel->pgtable().__ptep_get_and_clear(pte_pa(kBlock));  // no TLBI yet
    ends_mid_operation = true;  // the clear's TLBI never comes
    mark_mmu();
    const mmu::TranslationExt r = translate(kBlock, arch::Access::Store);
    EXPECT_EQ(r.fault, arch::FaultKind::Translation);
    EXPECT_EQ(pte(kBlock), 0u);  // nothing written into the cleared entry
    EXPECT_EQ(hw_dirty(), 0u);
    EXPECT_EQ(mmu_faults(), 1u);
}

TEST_F(HafdbsStaleEntry, StoreThroughACachedBlockEntryAfterAWriteProtectIsAPermissionFault) {
    folded_block(scripted());
    ASSERT_EQ(madv_free(16 * kPage), 0);
    ASSERT_TRUE(access(kBlock + 3 * kPage, arch::Access::Load).empty());  // 64K entry, clean
    kernel->pgtable().__wrprotect_ptes(pte_pa(kBlock), 16);  // whole block, CONT kept, no TLBI
    ASSERT_TRUE(block_folded());
    const std::vector<arch::Desc> wrprotected = block_entries();
    mark_mmu();
    const mmu::TranslationExt r = translate(kBlock + 9 * kPage, arch::Access::Store);
    EXPECT_EQ(r.fault, arch::FaultKind::Permission);
    EXPECT_EQ(block_entries(), wrprotected);
    EXPECT_EQ(hw_dirty(), 0u);
    EXPECT_STREQ(kernel_fault(kBlock + 9 * kPage, arch::Access::Store, r.fault), "wp_reuse");
    EXPECT_TRUE(access(kBlock + 9 * kPage, arch::Access::Store).empty());
    EXPECT_TRUE(arch::desc_write(pte(kBlock + 9 * kPage)));
    EXPECT_FALSE(arch::desc_write(pte(kBlock + 10 * kPage)));  // the others fault on their own
}

}  // namespace
}  // namespace mmusim::kernel::testing
