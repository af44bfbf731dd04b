// The page-table line caches: one LineCache level (sets, LRU, invalidation), the hierarchy of
// private L1D/L2 and shared LLC (which level serves a walker access, fills, coherence on
// stores), and PhysMem timing walker accesses by the level that served them (exact cycles)
// while the kernel's keep the flat latency.
#include <gtest/gtest.h>

#include <memory>

#include <systemc>
#include <tlm_utils/simple_initiator_socket.h>

#include "models/common/cycles.h"
#include "models/memory/cache_hierarchy.h"
#include "models/memory/line_cache.h"
#include "models/memory/phys_mem.h"
#include "models/memory/walker_access_ext.h"
#include "models/memory/word_access.h"
#include "sim/sc_context.h"

namespace mmusim::memory {
namespace {

constexpr unsigned kLineShift = 6;  // 64-byte lines

TEST(LineCacheTest, SetsAreSizeOverLineTimesWays) {
    const LineCache c("t", LineCacheConfig{64 * 1024, 4, 4}, kLineShift);
    EXPECT_EQ(c.sets(), 256u);
    const LineCache full("t", LineCacheConfig{1024, 16, 4}, kLineShift);
    EXPECT_EQ(full.sets(), 1u);
    EXPECT_THROW(LineCache("t", LineCacheConfig{1000, 4, 4}, kLineShift), std::invalid_argument);
}

TEST(LineCacheTest, MissFillHitAndInvalidate) {
    LineCache c("t", LineCacheConfig{4096, 2, 4}, kLineShift);  // 32 sets
    EXPECT_FALSE(c.lookup(7));
    c.fill(7);
    EXPECT_TRUE(c.lookup(7));
    EXPECT_FALSE(c.lookup(7 + 32 * 5));  // same set, other line
    EXPECT_TRUE(c.invalidate(7));
    EXPECT_FALSE(c.invalidate(7));
    EXPECT_FALSE(c.lookup(7));
    EXPECT_EQ(c.valid_lines(), 0u);
}

TEST(LineCacheTest, FullSetEvictsTheLeastRecentlyUsedLine) {
    LineCache c("t", LineCacheConfig{4096, 2, 4}, kLineShift);  // 32 sets of 2 ways
    const std::uint64_t a = 3, b = 3 + 32, d = 3 + 64;        // all in set 3
    c.fill(a);
    c.fill(b);
    EXPECT_TRUE(c.lookup(a));  // b is now the least recently used
    c.fill(d);
    EXPECT_TRUE(c.contains(a));
    EXPECT_FALSE(c.contains(b));
    EXPECT_TRUE(c.contains(d));
    // Filling a held line only refreshes it: a becomes most recently used, d goes next.
    c.fill(a);
    c.fill(b);
    EXPECT_TRUE(c.contains(a));
    EXPECT_FALSE(c.contains(d));
    EXPECT_EQ(c.valid_lines(), 2u);
}

CacheHierarchyConfig small_hierarchy(unsigned cores) {
    CacheHierarchyConfig h;
    h.enabled = true;
    h.cores = cores;
    h.line = 64;
    h.l1d = {1024, 2, 4};    // 8 sets
    h.l2 = {4096, 4, 11};    // 16 sets
    h.llc = {16384, 8, 40};  // 32 sets
    h.dram_latency = 200;
    return h;
}

TEST(CacheHierarchyTest, FirstAccessComesFromDramThenFromTheL1d) {
    CacheHierarchy h(small_hierarchy(1));
    EXPECT_EQ(h.walker_access(0, 0x1008, false), CacheLevel::Dram);
    EXPECT_TRUE(h.l1d(0).contains(h.line_of(0x1008)));
    EXPECT_TRUE(h.l2(0).contains(h.line_of(0x1008)));
    EXPECT_TRUE(h.llc().contains(h.line_of(0x1008)));
    EXPECT_EQ(h.walker_access(0, 0x1030, false), CacheLevel::L1d);  // same 64-byte line
    EXPECT_EQ(h.walker_access(0, 0x1040, false), CacheLevel::Dram);  // the next line
    EXPECT_EQ(h.latency(CacheLevel::L1d), 4u);
    EXPECT_EQ(h.latency(CacheLevel::L2), 11u);
    EXPECT_EQ(h.latency(CacheLevel::Llc), 40u);
    EXPECT_EQ(h.latency(CacheLevel::Dram), 200u);
    EXPECT_EQ(h.latency(CacheLevel::None), 0u);
}

TEST(CacheHierarchyTest, AnL1dEvictionIsServedByTheL2AndRefillsTheL1d) {
    CacheHierarchy h(small_hierarchy(1));
    // Lines 0, 8 and 16 share L1D set 0 (2 ways): the third evicts the first from the L1D
    // only (levels are non-inclusive).
    for (std::uint64_t line : {0u, 8u, 16u}) EXPECT_EQ(h.walker_access(0, line << 6, false), CacheLevel::Dram);
    EXPECT_FALSE(h.l1d(0).contains(0));
    EXPECT_TRUE(h.l2(0).contains(0));
    EXPECT_EQ(h.walker_access(0, 0, false), CacheLevel::L2);
    EXPECT_TRUE(h.l1d(0).contains(0));
    EXPECT_EQ(h.walker_access(0, 0, false), CacheLevel::L1d);
}

TEST(CacheHierarchyTest, AKernelStoreLeavesTheLineOnlyInTheLlc) {
    CacheHierarchy h(small_hierarchy(2));
    EXPECT_EQ(h.walker_access(0, 0x2000, false), CacheLevel::Dram);
    EXPECT_EQ(h.walker_access(1, 0x2000, false), CacheLevel::Llc);
    h.kernel_store(0x2010, 8);
    for (unsigned core : {0u, 1u}) {
        EXPECT_FALSE(h.l1d(core).contains(h.line_of(0x2000))) << core;
        EXPECT_FALSE(h.l2(core).contains(h.line_of(0x2000))) << core;
    }
    EXPECT_EQ(h.walker_access(0, 0x2000, false), CacheLevel::Llc);
    EXPECT_EQ(h.walker_access(1, 0x2000, false), CacheLevel::Llc);
    // A store the caches never saw puts the line in the LLC: the next walk finds it there.
    h.kernel_store(0x9000, 8);
    EXPECT_EQ(h.walker_access(0, 0x9000, false), CacheLevel::Llc);
}

TEST(CacheHierarchyTest, AKernelBulkStoreCoversEveryLineOfTheRange) {
    CacheHierarchy h(small_hierarchy(1));
    EXPECT_EQ(h.walker_access(0, 0x3000, false), CacheLevel::Dram);
    EXPECT_EQ(h.walker_access(0, 0x3fc0, false), CacheLevel::Dram);
    h.kernel_store(0x3000, 4096);  // clearing a page: 64 lines
    EXPECT_EQ(h.l1d(0).valid_lines(), 0u);
    EXPECT_EQ(h.l2(0).valid_lines(), 0u);
    EXPECT_EQ(h.walker_access(0, 0x3fc0, false), CacheLevel::Llc);
    EXPECT_EQ(h.walker_access(0, 0x4000, false), CacheLevel::Dram);  // just past the range
}

TEST(CacheHierarchyTest, AWalkerCompareAndSwapTakesTheLineFromOtherCores) {
    CacheHierarchy h(small_hierarchy(2));
    EXPECT_EQ(h.walker_access(0, 0x5000, false), CacheLevel::Dram);
    EXPECT_EQ(h.walker_access(1, 0x5000, false), CacheLevel::Llc);
    // Core 1's hardware access-flag update: an access of core 1 (an L1D hit), and core 0
    // loses its copies.
    EXPECT_EQ(h.walker_access(1, 0x5000, true), CacheLevel::L1d);
    EXPECT_FALSE(h.l1d(0).contains(h.line_of(0x5000)));
    EXPECT_FALSE(h.l2(0).contains(h.line_of(0x5000)));
    EXPECT_TRUE(h.l1d(1).contains(h.line_of(0x5000)));
    EXPECT_EQ(h.walker_access(0, 0x5000, false), CacheLevel::Llc);
    EXPECT_THROW(h.walker_access(2, 0x5000, false), std::out_of_range);
}

// PhysMem with a walker initiator (marked) and a kernel initiator (plain), as the platform
// binds them.
class PhysMemTimingTest : public ::testing::Test {
protected:
    struct Initiators : sc_core::sc_module {
        tlm_utils::simple_initiator_socket<Initiators> walker_socket, kernel_socket;
        explicit Initiators(sc_core::sc_module_name n)
            : sc_core::sc_module(n), walker_socket("walker_socket"), kernel_socket("kernel_socket") {}
    };

    void build(const CacheHierarchyConfig& caches) {
        TearDown();
        sim::fresh_systemc_context();
        mem = std::make_unique<PhysMem>("phys_mem", 30, caches);
        ini = std::make_unique<Initiators>("ini");
        ini->walker_socket.bind(mem->socket);
        ini->kernel_socket.bind(mem->socket);
        walker = std::make_unique<WordAccess>(ini->walker_socket);
        walker->mark_walker(&walker_ext);
        kernel = std::make_unique<WordAccess>(ini->kernel_socket);
        sc_core::sc_start(sc_core::SC_ZERO_TIME);
    }
    void TearDown() override {
        walker.reset();
        kernel.reset();
        ini.reset();
        mem.reset();
    }
    // Cycles of one walker read of `pa`.
    std::uint64_t walker_read(std::uint64_t pa) {
        sc_core::sc_time delay;
        walker->read(pa, delay);
        return time_to_cycles(delay);
    }

    WalkerAccessExt walker_ext;
    std::unique_ptr<PhysMem> mem;
    std::unique_ptr<Initiators> ini;
    std::unique_ptr<WordAccess> walker, kernel;
};

TEST_F(PhysMemTimingTest, WalkerReadsCostTheLatencyOfTheLevelThatServedThem) {
    build(small_hierarchy(1));
    mem->poke(0x7008, 0x1234);
    EXPECT_EQ(walker_read(0x7008), 200u);
    EXPECT_EQ(walker_ext.served, CacheLevel::Dram);
    EXPECT_EQ(walker_read(0x7000), 4u);
    EXPECT_EQ(walker_ext.served, CacheLevel::L1d);
    sc_core::sc_time delay;
    EXPECT_EQ(walker->read(0x7008, delay), 0x1234u);  // the data is memory's, whatever the level
}

TEST_F(PhysMemTimingTest, KernelAccessesKeepTheFlatLatencyAndTheirStoresReachTheWalker) {
    build(small_hierarchy(1));
    EXPECT_EQ(walker_read(0x8000), 200u);
    sc_core::sc_time delay;
    kernel->read(0x8000, delay);
    EXPECT_EQ(time_to_cycles(delay), 30u);
    EXPECT_EQ(walker_read(0x8000), 4u) << "a kernel read changes nothing";
    delay = sc_core::SC_ZERO_TIME;
    kernel->write(0x8008, 0x99, delay);
    EXPECT_EQ(time_to_cycles(delay), 30u);
    EXPECT_EQ(walker_read(0x8000), 40u) << "after a kernel store the line comes from the LLC";
    EXPECT_EQ(walker_ext.served, CacheLevel::Llc);
    delay = sc_core::SC_ZERO_TIME;
    kernel->compare_and_swap(0x8008, 0x99, 0x98, delay);
    EXPECT_EQ(walker_read(0x8008), 40u) << "a kernel compare-and-swap is a store too";
}

TEST_F(PhysMemTimingTest, WalkerCompareAndSwapIsAnAccessOfItsCore) {
    build(small_hierarchy(1));
    mem->poke(0x6000, 5);
    sc_core::sc_time delay;
    EXPECT_EQ(walker->compare_and_swap(0x6000, 5, 6, delay), 5u);
    EXPECT_EQ(time_to_cycles(delay), 200u);
    EXPECT_EQ(walker_ext.served, CacheLevel::Dram);
    EXPECT_EQ(walker_read(0x6000), 4u);
    EXPECT_EQ(mem->peek(0x6000), 6u);
}

TEST_F(PhysMemTimingTest, WithoutACacheModelEveryAccessCostsTheFlatLatency) {
    build(CacheHierarchyConfig{});
    EXPECT_EQ(mem->caches(), nullptr);
    EXPECT_EQ(walker_read(0x7000), 30u);
    EXPECT_EQ(walker_read(0x7000), 30u);
    EXPECT_EQ(walker_ext.served, CacheLevel::None);
}

}  // namespace
}  // namespace mmusim::memory
