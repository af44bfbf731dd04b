// The walk cache and page-table caches as a user meets them: the platform keys and their
// errors (key path, what was found, what is allowed), the mmu counters of a run and how walk
// cycles add up from them, and byte-identical statistics across runs.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/cli/cli_helpers.h"

namespace mmusim::cli_test {
namespace {

using nlohmann::json;

class CliWalkCache : public ::testing::Test {
protected:
    void SetUp() override { write_json(dir / "gen.json", config()); }

    // Random loads over 64 MiB: walks all over the PMD level, some in the walk cache.
    static json config() {
        json c = generator_config(20000);
        c["workload"]["generator"]["pattern"] = "uniform";
        c["workload"]["generator"]["length"] = "64M";
        return c;
    }
    json run(const std::vector<std::string>& sets) {
        return run_stats(with_sets({"run", "gen.json", "--json", "--out", "out"}, sets), dir.path());
    }
    void expect_refused(const std::string& set, const std::vector<std::string>& needles) {
        SCOPED_TRACE(set);
        EXPECT_TRUE(is_clean_error(run_mmusim({"run", "gen.json", "--set", set, "--out", "out"}, dir.path()), dir.path(), needles));
    }

    ScratchDir dir;
};

std::uint64_t u(const json& v) { return v.get<std::uint64_t>(); }

TEST_F(CliWalkCache, DefaultPresetHasAWalkCacheAndCountsItsHits) {
    const json s = run({});
    const json& m = s["mmu"];
    const std::uint64_t walks = u(s["pmu"]["DTLB_WALK"]) + u(s["pmu"]["ITLB_WALK"]);
    ASSERT_GT(walks, 1000u);
    EXPECT_EQ(u(m["walk_cache_lookups"]), walks) << "one lookup per walk";
    EXPECT_GT(u(m["walk_cache_hits"]), walks / 2);
    EXPECT_LE(u(m["walk_cache_hits"]), walks);
    // Every descriptor read is counted at the level that served it.
    EXPECT_EQ(u(m["walk_reads_l1d"]) + u(m["walk_reads_l2"]) + u(m["walk_reads_llc"]) + u(m["walk_reads_dram"]),
              u(m["walk_descriptor_reads"]));
    EXPECT_GT(u(m["walk_reads_dram"]), 0u);
    EXPECT_GT(u(m["walk_reads_l1d"]), 0u);
    // The per-core object carries the same keys.
    EXPECT_EQ(s["cores"][0]["mmu"], m);

    // Without the walk cache every walk starts at the root: more reads, the same PMU events.
    const json off = run({"platform.walk_cache.entries=0"});
    EXPECT_EQ(u(off["mmu"]["walk_cache_lookups"]), 0u);
    EXPECT_EQ(u(off["mmu"]["walk_cache_hits"]), 0u);
    EXPECT_GT(u(off["mmu"]["walk_descriptor_reads"]), u(m["walk_descriptor_reads"]) + walks);
    EXPECT_EQ(off["pmu"], s["pmu"]);
    EXPECT_EQ(off["kernel"]["faults"], s["kernel"]["faults"]);
}

TEST_F(CliWalkCache, WalkCyclesAreLookupsPlusEachReadAtItsLevel) {
    // Without hardware A/D updates a walk only looks up and reads, so walk_cycles is exact.
    const json s = run({"platform.features.hafdbs=false", "platform.walk_cache.latency=3", "platform.caches.l1d.latency=5",
                        "platform.caches.l2.latency=12", "platform.caches.llc.latency=50", "platform.caches.dram_latency=300"});
    const json& m = s["mmu"];
    ASSERT_GT(u(m["walk_reads_llc"]), 0u);
    EXPECT_EQ(u(m["walk_cycles"]), 3 * u(m["walk_cache_lookups"]) + 5 * u(m["walk_reads_l1d"]) + 12 * u(m["walk_reads_l2"]) +
                                       50 * u(m["walk_reads_llc"]) + 300 * u(m["walk_reads_dram"]));

    // Without the cache model (and walk cache), each read costs memory.latency, as the kernel's do.
    const json flat = run({"platform.features.hafdbs=false", "platform.walk_cache.entries=0", "platform.caches.enabled=false",
                           "platform.memory.latency=17"});
    const json& f = flat["mmu"];
    EXPECT_EQ(u(f["walk_cycles"]), 17 * u(f["walk_descriptor_reads"]));
    for (const char* key : {"walk_reads_l1d", "walk_reads_l2", "walk_reads_llc", "walk_reads_dram"}) EXPECT_EQ(u(f[key]), 0u) << key;
    // The kernel's page-table accesses cost memory.latency whatever the walker's caches.
    const json cached = run({"platform.features.hafdbs=false", "platform.memory.latency=17"});
    EXPECT_EQ(cached["kernel"]["cycles"], flat["kernel"]["cycles"]);
    EXPECT_NE(cached["mmu"]["walk_cycles"], f["walk_cycles"]);
}

TEST_F(CliWalkCache, StatisticsAreByteIdenticalAcrossRuns) {
    const std::vector<std::string> args = {"run", "gen.json", "--json", "--out", "out"};
    const CliResult a = run_mmusim(args, dir.path());
    const CliResult b = run_mmusim(args, dir.path());
    ASSERT_EQ(a.exit_code, 0) << a.err;
    EXPECT_EQ(a.out, b.out);
    EXPECT_GT(u(json::parse(a.out)["mmu"]["walk_cache_hits"]), 0u);
}

TEST_F(CliWalkCache, BadKeysAreRefusedNamingTheKeyPath) {
    expect_refused("platform.walk_cache.ways=3", {"platform.walk_cache.ways", "3 does not divide entries (64)"});
    expect_refused("platform.walk_cache.levels=[0,3]", {"platform.walk_cache.levels[1]", "found 3", "0 to 2"});
    expect_refused("platform.walk_cache.levels=[1,2,1]", {"platform.walk_cache.levels[2]", "level 1 is listed twice"});
    expect_refused("platform.walk_cache.levels=2", {"platform.walk_cache.levels", "found 2", "a list of whole numbers"});
    expect_refused("platform.walk_cache.entrys=8", {"\"platform.walk_cache.entrys\"", "did you mean \"platform.walk_cache.entries\""});
    expect_refused("platform.caches.line=48", {"platform.caches.line", "48 is not a power of two"});
    expect_refused("platform.caches.l1d.size=100", {"platform.caches.l1d.size", "100", "64 * 4 = 256 bytes"});
    expect_refused("platform.caches.llc.ways=0", {"platform.caches.llc.ways", "0 is out of range"});
    expect_refused("platform.caches.dram_latency=-1", {"platform.caches.dram_latency", "-1"});
    expect_refused("platform.caches.l3.size=1M", {"\"platform.caches.l3\"", "l1d, l2, llc"});
}

TEST_F(CliWalkCache, PresetsModelTheirCoresCaches) {
    const CliResult r = run_mmusim({"platforms", "--json"}, dir.path());
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const json doc = json::parse(r.out);
    ASSERT_FALSE(doc["platforms"].empty());
    for (const json& p : doc["platforms"]) {
        SCOPED_TRACE(p["name"].get<std::string>());
        const json file = json::parse(read_text(fs::path(MMUSIM_SOURCE_DIR) / "platforms" / (p["name"].get<std::string>() + ".json")));
        ASSERT_TRUE(file.contains("walk_cache")) << "each preset states its walk cache";
        ASSERT_TRUE(file.contains("caches")) << "each preset states its caches";
        EXPECT_EQ(p["walk_cache"], file["walk_cache"]);
        EXPECT_EQ(p["caches"], file["caches"]);
        EXPECT_TRUE(file["caches"]["enabled"].get<bool>());
        const std::string description = file["description"].get<std::string>();
        EXPECT_NE(description.find("Walk cache"), std::string::npos);
        EXPECT_NE(description.find("Page-table caches"), std::string::npos);
        EXPECT_NE(description.find("estimated"), std::string::npos);
    }
    // The table shows them too.
    const CliResult t = run_mmusim({"platforms"}, dir.path());
    ASSERT_EQ(t.exit_code, 0) << t.err;
    EXPECT_NE(t.out.find("walk cache"), std::string::npos);
    EXPECT_NE(t.out.find("64K/1M/32M"), std::string::npos) << t.out;
    EXPECT_NE(t.out.find("4/11/105/330"), std::string::npos) << t.out;
}

}  // namespace
}  // namespace mmusim::cli_test
