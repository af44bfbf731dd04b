// PMU counters of whole runs on small hand-made traces (spec/mmu.md §3-§4), each count
// worked out in the test from the rules.
#include <unistd.h>

#include "tests/sim/sim_test_util.h"

namespace mmusim::sim::testing {
namespace {

using nlohmann::json;

json config(const json& kernel) {
    return json{{"platform", "neoverse-n1"},
                {"kernel", kernel},
                {"workload", {{"trace", {{"path", "t.lackey"}, {"format", "lackey"}}}}}};
}

void expect_pmu(const json& stats, const json& want) {
    for (auto it = want.begin(); it != want.end(); ++it)
        EXPECT_EQ(stats["pmu"][it.key()], it.value()) << it.key();
}

TEST(PmuCounters, LoadThenStoreThroughTheZeroPage) {
    TempDir dir;
    // load (fresh: translation fault, zero page), load (hit), store (hit on a read-only
    // entry: permission fault, wp_page_copy flushes the page), load (hit).
    dir.file("t.lackey", "==1== header\n L 10000000,8\n L 10000008,8\n S 10000010,8\n L 10000018,8\n");
    const json s = run_json(dir, config({{"mthp", json::array()}}));
    // Attempts: L1 miss/L2 miss/walk fault; L1 miss/L2 miss/walk ok (refills);
    // L1 hit; L1 hit -> permission fault; L1 miss/L2 miss/walk ok (the TLBI removed the
    // entry everywhere); L1 hit.
    expect_pmu(s, {{"L1D_TLB", 6}, {"L1D_TLB_REFILL", 2}, {"L2D_TLB", 3}, {"L2D_TLB_REFILL", 2}, {"DTLB_WALK", 3},
                   {"L1I_TLB", 0}, {"ITLB_WALK", 0}, {"INST_RETIRED", 0}});
    EXPECT_EQ(s["kernel"]["faults"]["total"], 2);
    EXPECT_EQ(s["kernel"]["faults"]["translation"], 1);
    EXPECT_EQ(s["kernel"]["faults"]["permission"], 1);
    EXPECT_EQ(s["kernel"]["tlbi"]["VALE1IS"], 1);
    EXPECT_EQ(s["workload"]["records"], 4);
    EXPECT_EQ(s["workload"]["attempts"], 6);
}

TEST(PmuCounters, LargerGranulesCountTheSameThroughFracturedEntries) {
    // The N1's TLBs hold no 16K entries: a 16K or 64K page is cached as the 4K (or 64K)
    // piece used, and the write fault's page TLBI must still remove it.
    for (const char* granule : {"16K", "64K"}) {
        TempDir dir;
        dir.file("t.lackey", " L 10003000,8\n L 10003008,8\n S 10003010,8\n L 10003018,8\n");
        const json s = run_json(dir, config({{"granule", granule}, {"mthp", json::array()}}));
        expect_pmu(s, {{"L1D_TLB", 6}, {"L1D_TLB_REFILL", 2}, {"L2D_TLB", 3}, {"L2D_TLB_REFILL", 2}, {"DTLB_WALK", 3}});
        EXPECT_EQ(s["kernel"]["faults"]["total"], 2) << granule;
        EXPECT_EQ(s["kernel"]["folios"][granule], 1) << granule;
    }
}

TEST(PmuCounters, InstructionFetchesUseTheInstructionSideAndTheUnifiedL2) {
    TempDir dir;
    dir.file("t.lackey", "I  00400000,4\nI  00400004,4\nI  00400008,4\nI  00401000,4\n");
    const json s = run_json(dir, config({{"mthp", json::array()}}));
    // Page 0x400000: miss, miss, walk fault; miss, miss, walk ok; hit; hit.
    // Page 0x401000 (order-0 folio, not yet mapped): miss, miss, walk fault; miss, miss, walk ok.
    expect_pmu(s, {{"L1I_TLB", 6}, {"L1I_TLB_REFILL", 2}, {"ITLB_WALK", 4}, {"L2D_TLB", 4}, {"L2D_TLB_REFILL", 2},
                   {"L1D_TLB", 0}, {"DTLB_WALK", 0}, {"INST_RETIRED", 4}});
    EXPECT_EQ(s["derived"]["mpki"]["ITLB_WALK"], 1000.0);
}

std::string sixteen_pages() {
    std::string t = " S 10000000,8\n";  // faults in the 64K folio
    for (int i = 1; i < 16; ++i) {
        char line[32];
        std::snprintf(line, sizeof line, " L %x,8\n", 0x10000000 + i * 0x1000);
        t += line;
    }
    return t;
}

TEST(PmuCounters, ContiguousBlockIsOneTlbEntry) {
    TempDir dir;
    dir.file("t.lackey", sixteen_pages());
    const json s = run_json(dir, config({{"mthp", {"64K"}}, {"contpte", true}}));
    // Store: miss, miss, walk fault; miss, miss, walk ok (a 64K entry). 15 loads: L1 hits.
    expect_pmu(s, {{"L1D_TLB", 17}, {"L1D_TLB_REFILL", 1}, {"L2D_TLB", 2}, {"L2D_TLB_REFILL", 1}, {"DTLB_WALK", 2}});
    EXPECT_EQ(s["kernel"]["contpte"]["blocks_mapped_cont"], 1);
}

TEST(PmuCounters, WithoutContEachPageWalks) {
    TempDir dir;
    dir.file("t.lackey", sixteen_pages());
    // The same folio without PTE_CONT, or with hardware that ignores the hint: every page
    // of the block is its own TLB entry, found by its own walk.
    for (const json& variant : {json{{"mthp", {"64K"}}, {"contpte", false}}, json{{"mthp", {"64K"}}, {"contpte", true}}}) {
        const bool ignore_hint = variant["contpte"].get<bool>();
        const json s = run_json(dir, config(variant),
                                ignore_hint ? std::vector<Override>{parse_override("platform.features.honour_cont=false")}
                                            : std::vector<Override>{});
        expect_pmu(s, {{"L1D_TLB", 17}, {"L1D_TLB_REFILL", 16}, {"L2D_TLB", 17}, {"L2D_TLB_REFILL", 16}, {"DTLB_WALK", 17}});
        EXPECT_EQ(s["kernel"]["faults"]["total"], 1);
    }
}

TEST(PmuCounters, L2HitRefillsL1WithoutAWalk) {
    TempDir dir;
    std::string t;
    for (int i = 0; i < 49; ++i) {  // one page more than the 48-entry L1D holds
        char line[32];
        std::snprintf(line, sizeof line, " S %x,8\n", 0x10000000 + i * 0x1000);
        t += line;
    }
    t += " L 10000000,8\n";  // evicted from L1D (least recent), still in the L2
    t += " L 10030000,8\n";  // page 48: still in L1D
    dir.file("t.lackey", t);
    const json s = run_json(dir, config({{"mthp", json::array()}}));
    // Each store: miss, miss, walk fault; miss, miss, walk ok.
    expect_pmu(s, {{"L1D_TLB", 98 + 2}, {"L2D_TLB", 98 + 1}, {"DTLB_WALK", 98}, {"L2D_TLB_REFILL", 49},
                   {"L1D_TLB_REFILL", 49 + 1}});
}

// spec/mmu.md §4: an attempt that faults refills nothing, also when it hits in the L2.
TEST(PmuCounters, L2HitThatFaultsRefillsNothing) {
    TempDir dir;
    std::string t;
    for (int i = 0; i < 49; ++i) {  // zero-page loads; page 0 ends least recent in the L1D
        char line[32];
        std::snprintf(line, sizeof line, " L %x,8\n", 0x10000000 + i * 0x1000);
        t += line;
    }
    t += " S 10000000,8\n";  // L1 miss, L2 hit on the read-only zero-page entry
    dir.file("t.lackey", t);
    const json s = run_json(dir, config({{"mthp", json::array()}}));
    // Each load: miss, miss, walk fault; miss, miss, walk ok (refills). The store: miss, L2
    // hit that forbids it (a permission fault, no L1 refill); wp_page_copy flushes the page;
    // miss, miss, walk ok (refills).
    expect_pmu(s, {{"L1D_TLB", 98 + 2}, {"L2D_TLB", 98 + 2}, {"DTLB_WALK", 98 + 1}, {"L2D_TLB_REFILL", 49 + 1},
                   {"L1D_TLB_REFILL", 49 + 1}});
    EXPECT_EQ(s["kernel"]["faults"]["permission"], 1);
    EXPECT_EQ(s["mmu"]["faults"], 49 + 1);
}

// A store through a writable-clean L2 entry whose hardware dirty update succeeds takes no
// fault: the L1 is refilled, with the updated entry.
TEST(PmuCounters, L2HitWithASuccessfulDirtyUpdateRefillsL1) {
    const json ops = {
        {{"op", "mmap"}, {"region", "heap"}, {"prot", "rw"}},
        {{"op", "access"}, {"region", "heap"}, {"size", "4K"}, {"count", 1}, {"mix", "store"}},
        {{"op", "madvise"}, {"region", "heap"}, {"size", "4K"}, {"advice", "free"}},  // clean now
        {{"op", "access"}, {"region", "heap"}, {"size", "4K"}, {"count", 1}, {"mix", "load"}},  // cached clean
        {{"op", "access"}, {"region", "heap"}, {"offset", "4K"}, {"size", "192K"}, {"stride", "4K"}, {"count", 48},
         {"mix", "load"}},  // 48 more pages: page 0 leaves the L1D, stays in the L2
        {{"op", "access"}, {"region", "heap"}, {"size", "4K"}, {"count", 1}, {"mix", "store"}}};
    const auto run_ops = [](const json& o) {
        TempDir dir;
        return run_json(dir, json{{"platform", "neoverse-n1"},
                                  {"kernel", {{"mthp", json::array()}}},
                                  {"workload", {{"script", {{"regions", {{{"name", "heap"}, {"size", "2M"}}}}, {"ops", o}}}}}});
    };
    json without = ops;
    without.erase(without.size() - 1);
    const json a = run_ops(without), b = run_ops(ops);
    const auto d = [&](const char* key) { return b["pmu"][key].get<std::int64_t>() - a["pmu"][key].get<std::int64_t>(); };
    EXPECT_EQ(d("L1D_TLB"), 1);
    EXPECT_EQ(d("L2D_TLB"), 1);
    EXPECT_EQ(d("L1D_TLB_REFILL"), 1);
    EXPECT_EQ(d("DTLB_WALK"), 0);
    EXPECT_EQ(b["mmu"]["hw_dirty_updates"].get<std::int64_t>() - a["mmu"]["hw_dirty_updates"].get<std::int64_t>(), 1);
    EXPECT_EQ(b["kernel"]["faults"]["total"], a["kernel"]["faults"]["total"]);
}

TEST(PmuCounters, AnAccessCrossingAPageIsTwoRequests) {
    TempDir dir;
    dir.file("t.lackey", " S 10000ffc,8\n M 10001000,4\n");
    const json s = run_json(dir, config({{"mthp", json::array()}}));
    // The store splits into pages 0x10000000 and 0x10001000: each faults once then walks.
    // The modify (one store request) hits.
    expect_pmu(s, {{"L1D_TLB", 5}, {"DTLB_WALK", 4}, {"L1D_TLB_REFILL", 2}});
    EXPECT_EQ(s["workload"]["requests"], 3);
}

TEST(PmuCounters, SameInputsGiveIdenticalBytes) {
    TempDir dir;
    json c = {{"kernel", {{"mthp", {"64K"}}}},
              {"workload", {{"generator", {{"pattern", "zipf"}, {"length", "32M"}, {"count", 200000}, {"store_fraction", 0.4},
                                           {"code_length", "64K"}}}}}};
    const std::string a = run_json(dir, c).dump();
    const std::string b = run_json(dir, c).dump();
    EXPECT_EQ(a, b);
    c["seed"] = 2;
    EXPECT_NE(run_json(dir, c).dump(), a);
}

}  // namespace
}  // namespace mmusim::sim::testing
