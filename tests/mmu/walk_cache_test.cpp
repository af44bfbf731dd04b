// The walk cache: what it holds (valid table descriptors of the listed levels, by ASID), how a
// walk uses it (it starts below the deepest hit and reads only the remaining levels), LRU,
// which TLBIs reach it through Mmu::invalidate, the exact cycles of walks through the
// page-table line caches, and that TLB hits and walks allocate nothing.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <map>
#include <memory>
#include <new>

#include <systemc>
#include <tlm_utils/simple_initiator_socket.h>

#include "models/arch/descriptor.h"
#include "models/common/cycles.h"
#include "models/dvm/tlbi_ext.h"
#include "models/memory/phys_mem.h"
#include "models/memory/word_access.h"
#include "models/mmu/mmu.h"
#include "models/mmu/walk_cache.h"
#include "models/mmu/walker.h"
#include "sim/sc_context.h"

// Counts the allocations made while `g_counting` is set (the replacement serves the whole
// test program; it only counts). Kept out of line, so that the compiler does not pair a
// caller's new with free() and warn.
namespace {
std::atomic<bool> g_counting{false};
std::atomic<std::uint64_t> g_allocations{0};
}  // namespace

[[gnu::noinline]] void* operator new(std::size_t size) {
    if (g_counting.load(std::memory_order_relaxed)) g_allocations.fetch_add(1, std::memory_order_relaxed);
    if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
    throw std::bad_alloc();
}
[[gnu::noinline]] void operator delete(void* p) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace mmusim::mmu {
namespace {

using namespace arch::bits;

constexpr std::uint64_t K2M = 2ull << 20, G1 = 1ull << 30, G512 = 512ull << 30;
constexpr std::uint8_t kAllLevels = 0b111;

WalkCacheConfig wc_config(std::uint32_t entries, std::uint32_t ways, std::uint8_t levels = kAllLevels, std::uint32_t latency = 2) {
    WalkCacheConfig c;
    c.entries = entries;
    c.ways = ways;
    c.level_mask = levels;
    c.latency = latency;
    return c;
}

// ---- WalkCache on its own ----

TEST(WalkCacheTest, DeepestCachedLevelWins) {
    WalkCache wc(wc_config(16, 16), arch::Granule::K4);
    const std::uint64_t va = 0x40201000;
    wc.fill(va, 1, 0, 0x2000);
    wc.fill(va, 1, 1, 0x3000);
    wc.fill(va, 1, 2, 0x4000);
    WalkCacheHit hit = wc.lookup(va, 1);
    EXPECT_EQ(hit.level, 2);
    EXPECT_EQ(hit.table, 0x4000u);
    // Another 2M region of the same 1G: the level-1 entry is the deepest that covers it.
    hit = wc.lookup(va + K2M, 1);
    EXPECT_EQ(hit.level, 1);
    EXPECT_EQ(hit.table, 0x3000u);
    // Another 1G region of the same 512G: level 0.
    hit = wc.lookup(va + G1, 1);
    EXPECT_EQ(hit.level, 0);
    EXPECT_EQ(hit.table, 0x2000u);
    EXPECT_FALSE(wc.lookup(va + G512, 1).hit());
}

TEST(WalkCacheTest, EntriesAreTaggedByAsid) {
    WalkCache wc(wc_config(16, 16), arch::Granule::K4);
    wc.fill(0x40201000, 1, 2, 0x4000);
    EXPECT_TRUE(wc.lookup(0x40201000, 1).hit());
    EXPECT_FALSE(wc.lookup(0x40201000, 2).hit());
    wc.fill(0x40201000, 2, 2, 0x9000);
    EXPECT_EQ(wc.lookup(0x40201000, 1).table, 0x4000u);
    EXPECT_EQ(wc.lookup(0x40201000, 2).table, 0x9000u);
    EXPECT_EQ(wc.valid_entries(), 2u);
}

TEST(WalkCacheTest, OnlyTheListedLevelsAreCached) {
    WalkCache wc(wc_config(16, 16, 0b011), arch::Granule::K4);  // levels 0 and 1
    wc.fill(0x40201000, 1, 2, 0x4000);
    EXPECT_EQ(wc.valid_entries(), 0u);
    wc.fill(0x40201000, 1, 1, 0x3000);
    EXPECT_EQ(wc.lookup(0x40201000, 1).level, 1);
    WalkCache none(wc_config(0, 0), arch::Granule::K4);
    EXPECT_FALSE(none.enabled());
    none.fill(0x40201000, 1, 1, 0x3000);
    EXPECT_FALSE(none.lookup(0x40201000, 1).hit());
}

TEST(WalkCacheTest, FullSetEvictsTheLeastRecentlyUsedEntry) {
    WalkCache wc(wc_config(4, 2), arch::Granule::K4);  // 2 sets of 2 ways
    ASSERT_EQ(wc.sets(), 2u);
    // Level-2 entries of 2M regions 0, 2 and 4 (VA >> 21 even): all in set 0.
    const std::uint64_t a = 0 * K2M, b = 2 * K2M, c = 4 * K2M;
    wc.fill(a, 1, 2, 0xa000);
    wc.fill(b, 1, 2, 0xb000);
    wc.fill(K2M, 1, 2, 0x1000);  // set 1: not a competitor
    EXPECT_TRUE(wc.lookup(a, 1).hit());  // b is now the least recently used of set 0
    wc.fill(c, 1, 2, 0xc000);
    EXPECT_TRUE(wc.contains(a, 1, 2));
    EXPECT_FALSE(wc.contains(b, 1, 2));
    EXPECT_TRUE(wc.contains(c, 1, 2));
    EXPECT_TRUE(wc.contains(K2M, 1, 2));
    // Refilling a held entry updates it in place.
    wc.fill(c, 1, 2, 0xd000);
    EXPECT_EQ(wc.lookup(c, 1).table, 0xd000u);
    EXPECT_EQ(wc.valid_entries(), 3u);
}

TEST(WalkCacheTest, InvalidationByVaRangeAsidAndAll) {
    WalkCache wc(wc_config(32, 32), arch::Granule::K4);
    const std::uint64_t va = 0x40201000;
    const auto fill_all = [&](std::uint16_t asid) {
        wc.fill(va, asid, 0, 0x2000);
        wc.fill(va, asid, 1, 0x3000);
        wc.fill(va, asid, 2, 0x4000);
        wc.fill(va + K2M, asid, 2, 0x5000);
    };
    fill_all(1);
    fill_all(2);
    // By VA: every entry of the ASID whose range contains the VA (levels 0, 1 and the one 2M
    // region), not the neighbouring 2M region, not the other ASID.
    EXPECT_EQ(wc.invalidate_va(va + 0x10, 1), 3u);
    EXPECT_TRUE(wc.contains(va + K2M, 1, 2));
    EXPECT_FALSE(wc.contains(va, 1, 1));
    EXPECT_TRUE(wc.contains(va, 2, 2));
    // By range: entries overlapping it (the end is exclusive).
    fill_all(1);
    const std::uint64_t boundary = 0x40400000;  // between the two 2M regions
    EXPECT_EQ(wc.invalidate_range(boundary, boundary + 0x1000, 1), 3u);
    EXPECT_TRUE(wc.contains(va, 1, 2));
    fill_all(1);
    EXPECT_EQ(wc.invalidate_range(boundary - 0x1000, boundary + 0x1000, 1), 4u);
    EXPECT_EQ(wc.invalidate_range(va, va, 2), 0u) << "an empty range removes nothing";
    // By ASID, then all.
    fill_all(1);
    EXPECT_EQ(wc.invalidate_asid(2), 4u);
    EXPECT_EQ(wc.valid_entries(), 4u);
    EXPECT_EQ(wc.invalidate_all(), 4u);
    EXPECT_EQ(wc.valid_entries(), 0u);
}

// ---- Walker with a walk cache, on a fake descriptor memory ----

class FakeMemory : public DescriptorPort {
public:
    std::map<std::uint64_t, std::uint64_t> words;
    unsigned reads = 0;
    std::uint64_t read_descriptor(std::uint64_t pa, sc_core::sc_time&) override {
        ++reads;
        return words.count(pa) ? words[pa] : 0;
    }
    std::uint64_t cas_descriptor(std::uint64_t pa, std::uint64_t expected, std::uint64_t value, sc_core::sc_time&) override {
        const std::uint64_t old = words[pa];
        if (old == expected) words[pa] = value;
        return old;
    }
};

constexpr arch::Desc kUserRw = kValid | kType | kUser | kShInner | kAf | kNg | kDbm | kPxn;

class WalkerWithCacheTest : public ::testing::Test {
protected:
    static constexpr std::uint64_t kPgd = 0x1000, kPud = 0x2000, kPmd = 0x3000, kPte = 0x4000;
    static constexpr std::uint64_t kVa = 0x40201000;  // L0 index 0, L1 index 1, L2 index 1, L3 index 1
    FakeMemory mem;
    WalkCache cache{wc_config(16, 4), arch::Granule::K4};
    Walker walker{WalkerConfig{}, mem, &cache};
    sc_core::sc_time delay;

    void link_tables() {
        mem.words[kPgd] = arch::make_table_desc(kPud);
        mem.words[kPud + 1 * 8] = arch::make_table_desc(kPmd);
        mem.words[kPmd + 1 * 8] = arch::make_table_desc(kPte);
    }
    WalkResult walk(std::uint64_t va, std::uint16_t asid = 1) {
        mem.reads = 0;
        return walker.walk(va, kPgd, asid, arch::Access::Load, delay);
    }
};

TEST_F(WalkerWithCacheTest, AHitSkipsTheCachedLevels) {
    link_tables();
    mem.words[kPte + 1 * 8] = kUserRw | 0x77000;
    mem.words[kPte + 2 * 8] = kUserRw | 0x78000;
    WalkResult r = walk(kVa);
    EXPECT_EQ(r.fault, arch::FaultKind::None);
    EXPECT_EQ(mem.reads, 4u);
    EXPECT_TRUE(r.walk_cache_lookup);
    EXPECT_EQ(r.walk_cache_level, -1);
    EXPECT_EQ(cache.valid_entries(), 3u);
    // The next page of the same PTE table: one read, from the cached PMD entry's table.
    r = walk(kVa + 0x1000);
    EXPECT_EQ(r.fault, arch::FaultKind::None);
    EXPECT_EQ(mem.reads, 1u);
    EXPECT_EQ(r.reads, 1u);
    EXPECT_EQ(r.walk_cache_level, 2);
    EXPECT_EQ(r.region_pa, 0x78000u);
    EXPECT_EQ(r.desc_pa, kPte + 2 * 8);
    // Another ASID shares nothing.
    r = walk(kVa, 2);
    EXPECT_EQ(mem.reads, 4u);
    EXPECT_EQ(r.walk_cache_level, -1);
}

TEST_F(WalkerWithCacheTest, EachWalkPaysOneLookup) {
    link_tables();
    mem.words[kPte + 1 * 8] = kUserRw | 0x77000;
    walk(kVa);
    walk(kVa);
    walk(kVa + 0x1000);  // faults at level 3 (empty PTE), after a hit
    EXPECT_EQ(time_to_cycles(delay), 3u * 2u) << "the fake memory costs nothing; the lookups 2 cycles each";
}

TEST_F(WalkerWithCacheTest, AFaultingWalkCachesOnlyTheValidTablesItRead) {
    mem.words[kPgd] = arch::make_table_desc(kPud);  // the PUD entry of kVa is empty
    WalkResult r = walk(kVa);
    EXPECT_EQ(r.fault, arch::FaultKind::Translation);
    EXPECT_EQ(r.level, 1u);
    EXPECT_TRUE(cache.contains(kVa, 1, 0));
    EXPECT_FALSE(cache.contains(kVa, 1, 1)) << "an invalid descriptor is never cached";
    EXPECT_EQ(cache.valid_entries(), 1u);
    // The next walk starts at level 1: one read, the same fault.
    r = walk(kVa);
    EXPECT_EQ(mem.reads, 1u);
    EXPECT_EQ(r.walk_cache_level, 0);
    EXPECT_EQ(r.fault, arch::FaultKind::Translation);
    EXPECT_EQ(r.level, 1u);
    // Once the kernel fills the tables, the walk goes on from level 1 and caches them.
    link_tables();
    mem.words[kPte + 1 * 8] = kUserRw | 0x77000;
    r = walk(kVa);
    EXPECT_EQ(mem.reads, 3u);
    EXPECT_EQ(r.fault, arch::FaultKind::None);
    EXPECT_EQ(cache.valid_entries(), 3u);
}

TEST_F(WalkerWithCacheTest, BlocksAndLeavesAreNotCached) {
    mem.words[kPgd] = arch::make_table_desc(kPud);
    mem.words[kPud + 1 * 8] = arch::make_table_desc(kPmd);
    mem.words[kPmd + 1 * 8] = (kUserRw & ~kType) | 0xc0200000;  // 2M block
    const WalkResult r = walk(kVa);
    EXPECT_EQ(r.fault, arch::FaultKind::None);
    EXPECT_EQ(r.level, 2u);
    EXPECT_TRUE(cache.contains(kVa, 1, 0));
    EXPECT_TRUE(cache.contains(kVa, 1, 1));
    EXPECT_FALSE(cache.contains(kVa, 1, 2));
}

// ---- Mmu: TLBIs reaching the walk cache, and walk cycles through the line caches ----

class MmuWalkCacheTest : public ::testing::Test {
protected:
    struct Initiators : sc_core::sc_module {
        tlm_utils::simple_initiator_socket<Initiators> cpu, dvm, kernel;
        explicit Initiators(sc_core::sc_module_name n) : sc_core::sc_module(n), cpu("cpu"), dvm("dvm"), kernel("kernel") {}
    };
    static constexpr std::uint64_t kPgd = 0x10000, kPud = 0x20000, kPmd = 0x30000, kPte = 0x40000;
    static constexpr std::uint64_t kVa = 0x40201000;
    static constexpr std::uint16_t kAsid = 5;

    void build(const memory::CacheHierarchyConfig& caches = {}) {
        TearDown();
        sim::fresh_systemc_context();
        mem = std::make_unique<memory::PhysMem>("phys_mem", 30, caches);
        MmuConfig mc;
        mc.l1i = mc.l1d = TlbConfig{"l1", 48, 48, {4096, 2u << 20}, 1};
        mc.l1i.name = "l1i";
        mc.l1d.name = "l1d";
        mc.l2 = TlbConfig{"l2", 1024, 4, {4096, 2u << 20}, 5};
        mc.walk_cache = wc_config(16, 4, kAllLevels, 2);
        mmu = std::make_unique<Mmu>("mmu0", mc);
        ini = std::make_unique<Initiators>("ini");
        mmu->mem_socket.bind(mem->socket);
        ini->cpu.bind(mmu->cpu_socket);
        ini->dvm.bind(mmu->dvm_socket);
        ini->kernel.bind(mem->socket);
        kernel = std::make_unique<memory::WordAccess>(ini->kernel);
        mmu->set_context(kPgd, kAsid);
        sc_core::sc_start(sc_core::SC_ZERO_TIME);
        mem->poke(kPgd, arch::make_table_desc(kPud));
        mem->poke(kPud + 1 * 8, arch::make_table_desc(kPmd));
        mem->poke(kPmd + 1 * 8, arch::make_table_desc(kPte));
        for (unsigned i = 0; i < 4; ++i) mem->poke(kPte + (1 + i) * 8, kUserRw | (0x700000 + i * 0x1000));
    }
    void TearDown() override {
        kernel.reset();
        ini.reset();
        mmu.reset();
        mem.reset();
    }

    // One load; returns its cycles (TLB lookups and walk).
    std::uint64_t load(std::uint64_t va) {
        tlm::tlm_generic_payload t;
        TranslationExt ext;
        ext.access = arch::Access::Load;
        t.set_address(va);
        t.set_data_length(0);
        t.set_extension(&ext);
        sc_core::sc_time delay;
        ini->cpu->b_transport(t, delay);
        t.clear_extension(&ext);
        EXPECT_EQ(ext.fault, arch::FaultKind::None) << std::hex << va;
        return time_to_cycles(delay);
    }
    void tlbi(arch::TlbiOp op, std::uint64_t va = 0, std::uint64_t bytes = 0, std::uint16_t asid = kAsid) {
        tlm::tlm_generic_payload t;
        dvm::TlbiExt ext;
        ext.op = op;
        ext.va = va;
        ext.bytes = bytes;
        ext.asid = asid;
        t.set_extension(&ext);
        sc_core::sc_time delay;
        ini->dvm->b_transport(t, delay);
        t.clear_extension(&ext);
    }
    // Descriptors read by a load of `va`.
    std::uint64_t reads_of_load(std::uint64_t va) {
        const std::uint64_t before = mmu->stats().walk_descriptor_reads;
        load(va);
        return mmu->stats().walk_descriptor_reads - before;
    }

    std::unique_ptr<memory::PhysMem> mem;
    std::unique_ptr<Mmu> mmu;
    std::unique_ptr<Initiators> ini;
    std::unique_ptr<memory::WordAccess> kernel;
};

TEST_F(MmuWalkCacheTest, LastLevelTlbisKeepTheWalkCache) {
    build();
    for (const arch::TlbiOp op : {arch::TlbiOp::VALE1IS, arch::TlbiOp::VALE1, arch::TlbiOp::RVALE1IS, arch::TlbiOp::RVALE1,
                                  arch::TlbiOp::VAALE1IS, arch::TlbiOp::RVAALE1IS}) {
        SCOPED_TRACE(std::string(arch::tlbi_name(op)));
        load(kVa);  // warm: the tables are cached from here on
        ASSERT_EQ(mmu->walk_cache().valid_entries(), 3u);
        tlbi(op, kVa, 0x1000);
        EXPECT_EQ(mmu->walk_cache().valid_entries(), 3u);
        EXPECT_EQ(reads_of_load(kVa), 1u) << "the TLB entry went, the walk starts at the PTE table";
    }
    EXPECT_EQ(mmu->stats().walk_cache_invalidated, 0u);
}

TEST_F(MmuWalkCacheTest, AllLevelTlbisAsidAndAllRemoveTheWalkCacheEntries) {
    struct Case { arch::TlbiOp op; std::uint64_t va, bytes; std::uint16_t asid; unsigned removed; };
    const Case cases[] = {
        {arch::TlbiOp::VAE1IS, kVa + 0x3000, 0, kAsid, 3},        // the walk's three tables cover the VA
        {arch::TlbiOp::VAE1, kVa, 0, kAsid, 3},
        {arch::TlbiOp::RVAE1IS, kVa + K2M, 0x10000, kAsid, 2},    // the next 2M: levels 0 and 1 only
        {arch::TlbiOp::ASIDE1IS, 0, 0, kAsid, 3},
        {arch::TlbiOp::ASIDE1, 0, 0, kAsid, 3},
        {arch::TlbiOp::VMALLE1IS, 0, 0, 0, 3},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(std::string(arch::tlbi_name(c.op)));
        build();
        load(kVa);
        ASSERT_EQ(mmu->walk_cache().valid_entries(), 3u);
        tlbi(c.op, c.va, c.bytes, c.asid);
        EXPECT_EQ(mmu->walk_cache().valid_entries(), 3u - c.removed);
        EXPECT_EQ(mmu->stats().walk_cache_invalidated, c.removed);
        tlbi(arch::TlbiOp::VALE1IS, kVa, 0, kAsid);  // the TLB entry, if the op left it
        // From the root when the PMD entry's table went; else from the PTE table.
        EXPECT_EQ(reads_of_load(kVa), c.removed == 3 ? 4u : 1u);
    }
    // All-level TLBIs of another ASID leave this one's entries alone.
    build();
    load(kVa);
    tlbi(arch::TlbiOp::VAE1IS, kVa, 0, kAsid + 1);
    tlbi(arch::TlbiOp::ASIDE1IS, 0, 0, kAsid + 1);
    EXPECT_EQ(mmu->walk_cache().valid_entries(), 3u);
}

TEST_F(MmuWalkCacheTest, CountersOfLookupsAndHits) {
    build();
    load(kVa);
    load(kVa + 0x1000);
    load(kVa + 0x2000);
    load(kVa);  // TLB hit: no walk
    EXPECT_EQ(mmu->stats().walk_cache_lookups, 3u);
    EXPECT_EQ(mmu->stats().walk_cache_hits, 2u);
    EXPECT_EQ(mmu->stats().walk_descriptor_reads, 4u + 1u + 1u);
    EXPECT_EQ(mmu->stats().walk_cycles, 3u * 2u + 6u * 30u) << "no cache model: 30 cycles a read";
    EXPECT_EQ(mmu->stats().walk_reads_l1d + mmu->stats().walk_reads_l2 + mmu->stats().walk_reads_llc +
                  mmu->stats().walk_reads_dram,
              0u);
}

memory::CacheHierarchyConfig line_caches() {
    memory::CacheHierarchyConfig h;
    h.enabled = true;
    h.line = 64;
    h.l1d = {64 * 1024, 4, 4};
    h.l2 = {1024 * 1024, 8, 11};
    h.llc = {4 * 1024 * 1024, 16, 105};
    h.dram_latency = 330;
    return h;
}

TEST_F(MmuWalkCacheTest, WalkCyclesAreTheLevelsThatServedEachRead) {
    build(line_caches());
    // L1 TLB 1 + L2 TLB 5 + walk-cache lookup 2 + four reads of four table pages from DRAM.
    EXPECT_EQ(load(kVa), 1u + 5u + 2u + 4u * 330u);
    EXPECT_EQ(mmu->stats().walk_reads_dram, 4u);
    // The next page: one PTE read, the same 64-byte line, in the L1D.
    EXPECT_EQ(load(kVa + 0x1000), 1u + 5u + 2u + 4u);
    EXPECT_EQ(mmu->stats().walk_reads_l1d, 1u);
    // The TLBs hit now: nothing else.
    EXPECT_EQ(load(kVa + 0x1000), 1u);
    EXPECT_EQ(mmu->stats().walk_cycles, 2u + 4u * 330u + 2u + 4u);
}

TEST_F(MmuWalkCacheTest, AKernelStoreToThePteSendsTheNextWalkToTheLlc) {
    build(line_caches());
    load(kVa);
    load(kVa + 0x1000);
    // The kernel changes the PTE of kVa + 0x2000 (same line) and flushes the one page.
    sc_core::sc_time delay;
    kernel->write(kPte + 3 * 8, kUserRw | 0x900000, delay);
    EXPECT_EQ(time_to_cycles(delay), 30u) << "the kernel's accesses keep memory.latency";
    tlbi(arch::TlbiOp::VALE1IS, kVa + 0x2000);
    EXPECT_EQ(load(kVa + 0x2000), 1u + 5u + 2u + 105u);
    EXPECT_EQ(mmu->stats().walk_reads_llc, 1u);
    // After that walk the line is private again.
    tlbi(arch::TlbiOp::VALE1IS, kVa + 0x1000);
    EXPECT_EQ(load(kVa + 0x1000), 1u + 5u + 2u + 4u);
    const MmuStats& s = mmu->stats();
    EXPECT_EQ(s.walk_reads_l1d + s.walk_reads_l2 + s.walk_reads_llc + s.walk_reads_dram, s.walk_descriptor_reads);
}

TEST_F(MmuWalkCacheTest, AHardwareAccessFlagUpdateIsAnAccessOfTheCore) {
    build(line_caches());
    mem->poke(kPte + 1 * 8, (kUserRw & ~kAf) | 0x700000);  // old: the walker sets AF
    // Four reads from DRAM, then the compare-and-swap on the PTE line, now in the L1D.
    EXPECT_EQ(load(kVa), 1u + 5u + 2u + 4u * 330u + 4u);
    EXPECT_EQ(mmu->stats().hw_access_flag_updates, 1u);
    EXPECT_NE(mem->peek(kPte + 1 * 8) & kAf, 0u);
    EXPECT_EQ(mmu->stats().walk_descriptor_reads, 4u) << "the update is not a descriptor read";
}

TEST_F(MmuWalkCacheTest, TlbHitsAndWalksAllocateNothing) {
    build(line_caches());
    // The counter sees allocations at all.
    g_allocations = 0;
    g_counting = true;
    void* volatile probe = ::operator new(16);
    g_counting = false;
    ::operator delete(probe);
    ASSERT_EQ(g_allocations.load(), 1u);

    // Payloads are made before counting (a generic payload allocates its extension array).
    tlm::tlm_generic_payload access, flush;
    TranslationExt ext;
    ext.access = arch::Access::Load;
    access.set_data_length(0);
    access.set_extension(&ext);
    dvm::TlbiExt tlbi_ext;
    tlbi_ext.op = arch::TlbiOp::ASIDE1IS;
    tlbi_ext.asid = kAsid;
    flush.set_extension(&tlbi_ext);
    sc_core::sc_time delay;
    const auto translate = [&](std::uint64_t va) {
        access.set_address(va);
        ini->cpu->b_transport(access, delay);
    };
    translate(kVa);  // warm-up

    g_allocations = 0;
    g_counting = true;
    for (int round = 0; round < 100; ++round) {
        translate(kVa);                       // TLB hit
        ini->dvm->b_transport(flush, delay);  // the whole ASID: TLBs and walk cache
        translate(kVa);                       // full walk, fills the walk cache
        translate(kVa + 0x1000);              // walk from the cached PMD entry
        kernel->write(kPte + 3 * 8, kUserRw | 0x900000, delay);
        translate(kVa + 0x2000);              // walk, its PTE line from the LLC
    }
    g_counting = false;
    EXPECT_EQ(g_allocations.load(), 0u);
    EXPECT_EQ(ext.fault, arch::FaultKind::None);
    EXPECT_EQ(mmu->stats().walk_cache_lookups, 1u + 300u);
    EXPECT_GT(mmu->stats().walk_reads_llc, 0u);
    access.clear_extension(&ext);
    flush.clear_extension(&tlbi_ext);
}

}  // namespace
}  // namespace mmusim::mmu
