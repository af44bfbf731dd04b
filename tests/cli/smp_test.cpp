// Multi-core runs: threads of one process on several cores, broadcast maintenance reaching
// every core, its completion cost growing with the core count, the hazards of transient
// page-table states seen from another core, and byte-identical output for any core count.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/cli/cli_helpers.h"

namespace mmusim::cli_test {
namespace {

using nlohmann::json;

std::string config_path(const std::string& name) { return (fs::path(MMUSIM_SOURCE_DIR) / "configs" / name).string(); }

CliResult run_config(const ScratchDir& dir, const std::string& config, const std::vector<std::string>& sets) {
    return run_mmusim(with_sets({"run", config, "--json"}, sets), dir.path());
}

json run_json(const ScratchDir& dir, const std::string& config, const std::vector<std::string>& sets) {
    return run_stats(with_sets({"run", config, "--json"}, sets), dir.path());
}

std::uint64_t u(const json& v) { return v.get<std::uint64_t>(); }

// The same config gives the same bytes with 1, 2 and 4 cores, and each core's thread runs.
TEST(CliSmp, DeterministicWithOneTwoAndFourCores) {
    ScratchDir dir;
    for (const char* cores : {"1", "2", "4"}) {
        const std::vector<std::string> sets = {std::string("platform.cores=") + cores, std::string("workload.threads=") + cores,
                                               "workload.generator.count=20000"};
        const CliResult a = run_config(dir, config_path("smp_threads.json"), sets);
        const CliResult b = run_config(dir, config_path("smp_threads.json"), sets);
        ASSERT_EQ(a.exit_code, 0) << a.err;
        EXPECT_EQ(a.out, b.out) << cores << " cores";
        const json s = json::parse(a.out);
        ASSERT_EQ(s["cores"].size(), static_cast<std::size_t>(std::stoi(cores)));
        for (const json& c : s["cores"]) EXPECT_EQ(u(c["records"]), 20000u) << cores << " cores, core " << c["id"];
        EXPECT_EQ(u(s["workload"]["records"]), 20000u * static_cast<unsigned>(std::stoi(cores)));
    }
}

// Threads draw different streams (seed + thread), so two cores do different work.
TEST(CliSmp, GeneratorThreadsDrawTheirOwnStreams) {
    ScratchDir dir;
    const json s = run_json(dir, config_path("smp_threads.json"),
                            {"platform.cores=2", "workload.threads=2", "workload.generator.count=20000"});
    ASSERT_EQ(s["cores"].size(), 2u);
    EXPECT_NE(s["cores"][0]["pmu"], s["cores"][1]["pmu"]);
}

// Broadcast TLBIs reach every core's MMU, idle cores included; local ones (v6.19's spurious
// fault and write-fault reuse flushes) only the issuing core's.
TEST(CliSmp, BroadcastReachesEveryCoreAndLocalStaysLocal) {
    ScratchDir dir;
    const json s = run_json(dir, config_path("smp_fork_stale.json"),
                            {"kernel.version=6.19", "platform.cores=4", "workload.placement=[0,2]"});
    const std::uint64_t broadcast = u(s["kernel"]["tlbi_scope"]["broadcast"]);
    const std::uint64_t local = u(s["kernel"]["tlbi_scope"]["local"]);
    ASSERT_GT(broadcast, 0u);
    ASSERT_GT(local, 0u);
    std::uint64_t received = 0;
    for (const json& c : s["cores"]) {
        const std::uint64_t r = u(c["mmu"]["tlbi_received"]);
        received += r;
        EXPECT_GE(r, broadcast) << "core " << c["id"];
    }
    // Idle cores 1 and 3 get exactly the broadcasts; the locals land where they were issued.
    EXPECT_EQ(u(s["cores"][1]["mmu"]["tlbi_received"]), broadcast);
    EXPECT_EQ(u(s["cores"][3]["mmu"]["tlbi_received"]), broadcast);
    EXPECT_EQ(received, 4 * broadcast + local);
    EXPECT_EQ(u(s["cores"][1]["records"]), 0u);
}

// DSB.ISH pays costs.tlbi_broadcast_per_core for each broadcast TLBI it completes and each
// other core; nothing else about the kernel's work changes with the core count.
TEST(CliSmp, BroadcastCompletionCostGrowsWithTheCoreCount) {
    ScratchDir dir;
    const std::string churn = config_path("mprotect_churn.json");
    const json one = run_json(dir, churn, {"platform.costs.tlbi_broadcast_per_core=7"});
    const json two = run_json(dir, churn, {"platform.costs.tlbi_broadcast_per_core=7", "platform.cores=2"});
    const json four = run_json(dir, churn, {"platform.costs.tlbi_broadcast_per_core=7", "platform.cores=4"});
    const std::uint64_t broadcasts = u(one["kernel"]["tlbi_scope"]["broadcast"]);
    ASSERT_GT(broadcasts, 0u);
    EXPECT_EQ(u(two["kernel"]["cycles"]) - u(one["kernel"]["cycles"]), 7 * 1 * broadcasts);
    EXPECT_EQ(u(four["kernel"]["cycles"]) - u(one["kernel"]["cycles"]), 7 * 3 * broadcasts);
    EXPECT_EQ(four["kernel"]["pte_ops"], one["kernel"]["pte_ops"]);
    EXPECT_EQ(four["kernel"]["tlbi"], one["kernel"]["tlbi"]);
    EXPECT_EQ(four["pmu"], one["pmu"]);
}

// fork write-protects the parent's entries and flushes them once at its end: until then the
// writer thread on the other core keeps storing through its old writable TLB entries; and
// copy-on-write unfolds make it fault on cleared entries that are mapped again by the time it
// gets the kernel.
TEST(CliSmp, ForkLeavesStaleWritableEntriesAndConvertsCauseSpuriousFaults) {
    ScratchDir dir;
    const json s = run_json(dir, config_path("smp_fork_stale.json"), {});
    EXPECT_GT(u(s["mmu"]["stale_tlb_writes"]), 0u);
    EXPECT_GT(u(s["kernel"]["faults"]["by_handler"]["spurious"]), 0u);
    EXPECT_GT(u(s["kernel"]["smp"]["lockless_none"]), 0u);
    EXPECT_GT(u(s["kernel"]["smp"]["lock_waits"]), 0u);
    EXPECT_EQ(u(s["kernel"]["smp"]["threads_spawned"]), 1u);
    EXPECT_GT(u(s["cores"][1]["records"]), 0u);
    // The writer's stores go through the MMU of core 1.
    EXPECT_GT(u(s["cores"][1]["pmu"]["L1D_TLB"]), 0u);
}

// configs/smp_numa_race.json: each scan's hinting faults refold the blocks (a convert inside a
// fault), and the reader on the other core meets the cleared entries of those converts.
TEST(CliSmp, NumaRaceConfigShowsTheReaderMeetingConverts) {
    ScratchDir dir;
    const json s = run_json(dir, config_path("smp_numa_race.json"), {});
    EXPECT_EQ(u(s["kernel"]["faults"]["by_handler"]["numa_hinting"]), 1600u);  // 100 scans x 16 blocks
    EXPECT_EQ(u(s["kernel"]["contpte"]["folds"]), 1600u);
    EXPECT_GT(u(s["kernel"]["smp"]["lockless_none"]), 0u);
    EXPECT_EQ(u(s["kernel"]["faults"]["by_handler"]["spurious"]), u(s["kernel"]["smp"]["lockless_none"]));
    EXPECT_GT(u(s["mmu"]["stale_tlb_hits"]), 0u);
    EXPECT_EQ(u(s["kernel"]["by_op"]["numa_scan"]["calls"]), 100u);
}

// A spawned thread starts when the spawn runs, not at time 0.
TEST(CliSmp, ASpawnedThreadStartsAtItsSpawn) {
    ScratchDir dir;
    json c = json::parse(read_text(config_path("smp_numa_race.json")));
    c.erase("description");
    auto& ops = c["workload"]["script"]["ops"];
    // 200 more page-sized stores before the spawn: the reader starts later, so ends later.
    ops.insert(ops.begin() + 2, json{{"op", "access"}, {"region", "heap"}, {"stride", "4K"}, {"mix", "store"}, {"count", 200000}});
    c["workload"]["script"]["threads"][0]["ops"][0]["count"] = 1;
    write_json(dir / "late.json", c);
    ops.erase(ops.begin() + 2);
    write_json(dir / "early.json", c);
    const json late = run_json(dir, "late.json", {});
    const json early = run_json(dir, "early.json", {});
    EXPECT_GT(u(late["cores"][1]["cycles"]), u(early["cores"][1]["cycles"]));
    EXPECT_EQ(u(late["cores"][1]["records"]), 256u);
}

::testing::AssertionResult rejected(const ScratchDir& dir, const json& script, const std::vector<std::string>& needles) {
    json c = {{"platform", {{"preset", "neoverse-n1"}, {"cores", 2}}}, {"workload", {{"script", script}}}};
    write_json(dir / "bad.json", c);
    return is_clean_error(run_mmusim({"run", "bad.json", "--out", "out"}, dir.path()), dir / "out", needles);
}

TEST(CliSmp, ScriptThreadErrorsNameTheirKeyPath) {
    ScratchDir dir;
    const json region = json::array({{{"name", "heap"}, {"size", "1M"}}});
    const json access = {{"op", "access"}, {"region", "heap"}};
    EXPECT_TRUE(rejected(dir, {{"regions", region}, {"threads", {{{"name", "w"}, {"ops", {access}}}}}, {"ops", json::array()}},
                         {"workload.script.threads[0]", "\"w\" is never started", "\"op\": \"spawn\""}));
    EXPECT_TRUE(rejected(dir,
                         {{"regions", region},
                          {"threads", {{{"name", "w"}, {"ops", {access}}}}},
                          {"ops", {{{"op", "loop"}, {"count", 2}, {"ops", {{{"op", "spawn"}, {"thread", "w"}}}}}}}},
                         {"workload.script.ops[0].ops[0].op", "spawn inside a loop"}));
    EXPECT_TRUE(rejected(dir,
                         {{"regions", region},
                          {"threads", {{{"name", "w"}, {"ops", {{{"op", "fork"}, {"child", "c"}}}}}}},
                          {"ops", {{{"op", "spawn"}, {"thread", "w"}}}}},
                         {"workload.script.threads[0].ops[0].op", "\"fork\" is for the main thread"}));
    EXPECT_TRUE(rejected(dir, {{"regions", region}, {"threads", {{{"name", "w"}, {"ops", {access}}}}}, {"ops", {{{"op", "spawn"}, {"thread", "x"}}}}},
                         {"workload.script.ops[0].thread", "\"x\" is not a thread"}));
    // Two threads and one core.
    json script = {{"regions", region}, {"threads", {{{"name", "w"}, {"ops", {access}}}}}};
    script["ops"] = json::array({{{"op", "spawn"}, {"thread", "w"}}});
    json c = {{"platform", "neoverse-n1"}};
    c["workload"]["script"] = script;
    write_json(dir / "one.json", c);
    EXPECT_TRUE(is_clean_error(run_mmusim({"run", "one.json", "--out", "out"}, dir.path()), dir / "out",
                               {"workload.threads", "2 threads need as many cores", "platform.cores"}));
}

TEST(CliSmp, APresetWithKeysChanged) {
    ScratchDir dir;
    json c = generator_config(1000);
    c["platform"] = {{"preset", "neoverse-n2"}, {"cores", 2}, {"costs", {{"dsb_ish", 999}}}};
    write_json(dir / "run.json", c);
    const CliResult r = run_mmusim({"run", "run.json", "--json"}, dir.path());
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const json p = json::parse(r.out)["config"]["platform"];
    EXPECT_EQ(p["name"], "neoverse-n2");
    EXPECT_EQ(p["cores"], 2);
    EXPECT_EQ(p["costs"]["dsb_ish"], 999);
    EXPECT_EQ(p["features"]["tlbirange"], true);  // from the preset
    EXPECT_FALSE(p.contains("preset"));
}

// --set platform.preset=NAME swaps the preset under the config's own changes; on a config that
// names a preset, it is that preset.
TEST(CliSmp, SetPlatformPresetSwapsThePreset) {
    ScratchDir dir;
    json c = generator_config(1000);
    c["platform"] = {{"preset", "neoverse-n2"}, {"cores", 2}, {"costs", {{"dsb_ish", 999}}}};
    write_json(dir / "changed.json", c);
    write_json(dir / "named.json", generator_config(1000));
    for (const char* file : {"changed.json", "named.json"}) {
        const CliResult r = run_mmusim({"run", file, "--set", "platform.preset=ampereone", "--json"}, dir.path());
        ASSERT_EQ(r.exit_code, 0) << r.err;
        const json p = json::parse(r.out)["config"]["platform"];
        EXPECT_EQ(p["name"], "ampereone") << file;
        EXPECT_EQ(p["tlb"]["l1d"]["sizes"].size(), 5u) << file << ": the preset's TLBs, 1G in the L1 too";
        EXPECT_FALSE(p.contains("preset")) << file;
        if (std::string(file) == "changed.json") {
            EXPECT_EQ(p["cores"], 2);
            EXPECT_EQ(p["costs"]["dsb_ish"], 999);
        }
    }
}

}  // namespace
}  // namespace mmusim::cli_test
