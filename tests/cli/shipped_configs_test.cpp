// Every config in configs/ runs through the real program, and the scripted ones show the
// answer their description promises (the counters of spec/kernel.md that the question is
// about), so a change that breaks a documented result fails here.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/cli/cli_helpers.h"

namespace mmusim::cli_test {
namespace {

using nlohmann::json;

const fs::path kConfigs = fs::path(MMUSIM_SOURCE_DIR) / "configs";

class ShippedConfigs : public ::testing::Test {
protected:
    json run(const std::string& name, const std::vector<std::string>& extra = {}) {
        std::vector<std::string> args = {"run", (kConfigs / name).string(), "--json"};
        args.insert(args.end(), extra.begin(), extra.end());
        const CliResult r = run_mmusim(args, dir.path());
        EXPECT_EQ(r.exit_code, 0) << r.command << "\n" << r.err;
        return r.exit_code == 0 ? json::parse(r.out) : json::object();
    }
    static std::uint64_t tlbi_total(const json& op) {
        std::uint64_t n = 0;
        for (const auto& [form, count] : op.at("tlbi").items()) n += count.get<std::uint64_t>();
        return n;
    }
    ScratchDir dir;
};

TEST_F(ShippedConfigs, EveryConfigValidatesAndRunsWithADescription) {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(kConfigs))
        if (entry.path().extension() == ".json") names.push_back(entry.path().filename().string());
    std::sort(names.begin(), names.end());
    ASSERT_GE(names.size(), 10u);
    for (const std::string& name : names) {
        const CliResult v = run_mmusim({"validate", (kConfigs / name).string()}, dir.path());
        EXPECT_EQ(v.exit_code, 0) << name << ": " << v.err;
        const json doc = json::parse(read_text(kConfigs / name));
        if (doc.contains("workload") && doc["workload"].contains("script")) {
            EXPECT_TRUE(doc.contains("description")) << name << " should say what it asks";
        }
    }
}

TEST_F(ShippedConfigs, EveryConfigRunsWithTheInvariantChecker) {
    // --check: the page tables and TLBs are checked after every kernel operation of every
    // shipped config, and the figures are those of a run without it.
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(kConfigs))
        if (entry.path().extension() == ".json") names.push_back(entry.path().filename().string());
    std::sort(names.begin(), names.end());
    for (const std::string& name : names) {
        const CliResult r = run_mmusim({"--log-level", "info", "run", (kConfigs / name).string(), "--check", "--out",
                                        (dir / name).string()},
                                       dir.path());
        EXPECT_EQ(r.exit_code, 0) << name << ": " << r.err;
        EXPECT_NE(r.err.find("invariant checker: the page tables and TLBs held after each of"), std::string::npos)
            << name << ": " << r.err;
    }
}

TEST_F(ShippedConfigs, TheInvariantCheckerChangesNoFigure) {
    // MMUSIM_CHECK=0 turns the checker off for this run only (the test suite sets it to 1).
    const char* saved = std::getenv("MMUSIM_CHECK");
    const std::string restore = saved != nullptr ? saved : "";
    ::setenv("MMUSIM_CHECK", "0", 1);
    const CliResult off = run_mmusim({"--log-level", "info", "run", (kConfigs / "jit_wx_flips.json").string(), "--json"}, dir.path());
    ::setenv("MMUSIM_CHECK", restore.c_str(), 1);
    const CliResult on = run_mmusim({"--log-level", "info", "run", (kConfigs / "jit_wx_flips.json").string(), "--json"}, dir.path());
    ASSERT_EQ(off.exit_code, 0) << off.err;
    ASSERT_EQ(on.exit_code, 0) << on.err;
    EXPECT_EQ(off.err.find("invariant checker"), std::string::npos) << off.err;
    EXPECT_NE(on.err.find("invariant checker"), std::string::npos) << on.err;
    EXPECT_EQ(off.out, on.out);  // byte for byte
}

TEST_F(ShippedConfigs, MremapOfFoldedBlocksBatchesFrom617) {
    const json before = run("mremap_folded.json", {"--set", "kernel.version=6.16"})["kernel"];
    EXPECT_EQ(before["contpte"]["unfolds"], 16);
    EXPECT_EQ(before["contpte"]["folds"], 16);
    const json after = run("mremap_folded.json")["kernel"];
    EXPECT_EQ(after["by_op"]["mremap"]["contpte"]["converts"], 0);
    EXPECT_EQ(after["contpte"]["blocks_mapped_cont"], 32 + 16);
    EXPECT_EQ(after["by_op"]["mremap"]["tlbi"]["RVAE1IS"], 1);
    EXPECT_EQ(after["events"]["mremap_pmds_moved"], 0);
}

TEST_F(ShippedConfigs, MprotectChurnUnfoldsAndRefoldsEachTime) {
    const json k = run("mprotect_churn.json")["kernel"];
    EXPECT_EQ(k["contpte"]["unfolds"], 200);
    EXPECT_EQ(k["contpte"]["folds"], 200);
}

TEST_F(ShippedConfigs, DontneedOfHalfABlockUnfoldsOnceAndNeverRefolds) {
    const json k = run("dontneed_half_blocks.json")["kernel"];
    EXPECT_EQ(k["contpte"]["unfolds"], 1);
    EXPECT_EQ(k["contpte"]["folds"], 0);
    EXPECT_EQ(k["by_op"]["madvise(dontneed)"]["calls"], 100);
    EXPECT_EQ(k["faults"]["by_handler"]["anon_folio_order0"], 800);  // 8 pages refaulted per round
}

TEST_F(ShippedConfigs, UffdWpCyclesUnfoldAndRefoldTheWorkingSet) {
    const json k = run("uffd_wp_cycles.json")["kernel"];
    EXPECT_EQ(k["faults"]["by_handler"]["uffd_wp_sync"], 20 * 64);
    EXPECT_EQ(k["contpte"]["unfolds"], 20 * 4);
    EXPECT_EQ(k["contpte"]["folds"], 20 * 4);
    EXPECT_EQ(k["by_op"]["uffd_writeprotect"]["calls"], 40);
}

TEST_F(ShippedConfigs, PostCopyNeverFoldsAndAsyncWpResolvesInTheKernel) {
    const json k = run("uffd_async_postcopy.json")["kernel"];
    EXPECT_EQ(k["faults"]["by_handler"]["uffd_missing_copy"], 256);  // 1M, one 4K page per event
    EXPECT_EQ(k["events"]["uffd_events"], 256);                        // none from the async region
    EXPECT_GT(k["events"]["uffd_wp_async_resolved"].get<std::uint64_t>(), 0u);
    EXPECT_EQ(k["faults"]["by_handler"]["anon_folio_large"], 32);  // the heap only: post-copy pages are order 0
    EXPECT_GT(k["by_op"]["fault"]["contpte"]["unfolds"].get<std::uint64_t>(), 0u);
    EXPECT_GT(k["by_op"]["uffd_writeprotect"]["contpte"]["folds"].get<std::uint64_t>(), 0u);
}

TEST_F(ShippedConfigs, AgingCostsOneCallPerEntryUntilTheBatchedTree) {
    const json old = run("reclaim_aging.json")["kernel"]["by_op"]["reclaim"];
    const json now = run("reclaim_aging.json", {"--set", "kernel.version=current"})["kernel"]["by_op"]["reclaim"];
    // 10 rounds over 1024 entries: 16 C per call, one call per entry, or one per 16-entry folio.
    EXPECT_EQ(old["pte_ops"]["C"], 10 * 1024 * 16);
    EXPECT_EQ(now["pte_ops"]["C"], 10 * 64 * 16);
    EXPECT_EQ(tlbi_total(old), tlbi_total(now));  // young blocks are flushed once either way
}

TEST_F(ShippedConfigs, LazyNestingRuleBEmitsMorePairsThanD) {
    const json b = run("lazy_nesting_debug_pagealloc.json", {"--set", "kernel.lazy_mmu=B"})["kernel"];
    const json d = run("lazy_nesting_debug_pagealloc.json", {"--set", "kernel.lazy_mmu=D"})["kernel"];
    const json none = run("lazy_nesting_debug_pagealloc.json", {"--set", "kernel.lazy_mmu=none"})["kernel"];
    const auto isb = [](const json& k) { return k["by_op"]["kernel_map"]["barriers"]["ISB"].get<std::uint64_t>(); };
    EXPECT_LT(isb(d), isb(b));
    EXPECT_EQ(isb(b), isb(none));  // after the inner leave B runs as if there were no lazy mode
    EXPECT_GT(d["lazy_mmu"]["nested_sections"].get<std::uint64_t>(), 0u);
    // The zap's only inner section is its gather batch page's (one store), and it frees the
    // user pages after the flush, outside its section: the same pairs under every rule.
    EXPECT_EQ(b["by_op"]["munmap"]["barriers"]["ISB"], d["by_op"]["munmap"]["barriers"]["ISB"]);
    EXPECT_EQ(d["events"]["gather_batch_pages"], 50);  // one per munmap of 64 pages
}

TEST_F(ShippedConfigs, MigrateFoldedCostsTwoConvertsPerBlockAndComesBackFolded) {
    const json on = run("migrate_folded.json");
    const json off = run("migrate_folded.json", {"--set", "kernel.contpte=false"});
    const json& m = on["kernel"]["by_op"]["migrate"];
    EXPECT_EQ(m["calls"], 1);
    EXPECT_EQ(m["contpte"]["unfolds"], 16);  // each block's first clear
    EXPECT_EQ(m["contpte"]["folds"], 16);    // each block's last set_pte_at
    EXPECT_EQ(m["contpte"]["converts"], 32);
    EXPECT_EQ(m["tlbi"]["VALE1IS"], 256 + 32 * 16);  // a page TLBI each, 16 per convert (no TLBIRANGE)
    EXPECT_EQ(m["barriers"]["DSB.ISH"], 33);          // the converts and the batch's one flush
    EXPECT_EQ(on["kernel"]["events"]["folios_migrated"], 16);
    EXPECT_EQ(on["kernel"]["events"]["pages_migrated"], 256);
    const json& n = off["kernel"]["by_op"]["migrate"];
    EXPECT_EQ(n["contpte"]["converts"], 0);
    EXPECT_EQ(n["tlbi"]["VALE1IS"], 256);
    EXPECT_EQ(n["barriers"]["DSB.ISH"], 1);
    EXPECT_LT(n["cycles"].get<std::uint64_t>(), m["cycles"].get<std::uint64_t>());
    // Folded again: the loads after the migration walk as rarely as before it.
    EXPECT_EQ(on["pmu"]["DTLB_WALK"], 48);
    EXPECT_GT(off["pmu"]["DTLB_WALK"].get<std::uint64_t>(), 10 * on["pmu"]["DTLB_WALK"].get<std::uint64_t>());
}

TEST_F(ShippedConfigs, PfnmapSplitsItsHugePmdOnPartialMprotect) {
    const json k = run("pfnmap.json")["kernel"];
    EXPECT_EQ(k["events"]["huge_pmd_splits"], 1);
    EXPECT_EQ(k["faults"]["by_handler"]["pfnmap_huge"], 2);
    EXPECT_EQ(k["faults"]["by_handler"]["pfnmap_insert"], 512);  // the split 2M, refaulted per page
    EXPECT_EQ(tlbi_total(k["by_op"]["mprotect"]), 1u);
    EXPECT_EQ(k["contpte"]["blocks_mapped_cont"], 0);
}

TEST_F(ShippedConfigs, FaultAroundSavesFaultsOnlyBeyondTheFolioSize) {
    const auto kernel = [&](const char* version, const char* fa) {
        return run("file_fault_around.json",
                   {"--set", std::string("kernel.version=") + version, "--set", std::string("kernel.fault_around=") + fa})["kernel"];
    };
    // From v6.18 finish_fault maps a whole folio per cold fault, so fault-around saves
    // faults only with a window larger than a folio; every block is mapped CONT by a batch.
    for (const char* fa : {"4K", "64K"}) {
        const json k = kernel("6.18", fa);
        EXPECT_EQ(k["faults"]["total"], 128) << fa;
        EXPECT_EQ(k["contpte"]["blocks_mapped_cont"], 128) << fa;
    }
    EXPECT_EQ(kernel("6.18", "256K")["faults"]["total"], 80);
    // Before (6.17, the config's version), a cold fault maps its page alone. Without
    // fault-around every page faults, and the store of each block's last page folds it.
    json k = kernel("6.17", "4K");
    EXPECT_EQ(k["faults"]["total"], 2048);
    EXPECT_EQ(k["contpte"]["folds"], 128);
    // With it, the next fault maps the other 15 pages of the folio in one set_ptes, which
    // never folds (scenario 28): only the second pass, from the warm cache, maps whole blocks.
    k = kernel("6.17", "64K");
    EXPECT_EQ(k["faults"]["total"], 192);
    EXPECT_EQ(k["faults"]["by_handler"]["file_page"], 64);
    EXPECT_EQ(k["contpte"]["blocks_mapped_cont"], 64);
    EXPECT_EQ(k["contpte"]["folds"], 0);
    EXPECT_EQ(kernel("6.17", "256K")["faults"]["total"], 144);
}

TEST_F(ShippedConfigs, ThpSplitsWriteFoldedBlocksWithoutConverts) {
    const json always = run("thp_split.json");
    const json never = run("thp_split.json", {"--set", "kernel.thp=never"});
    const json& k = always["kernel"];
    EXPECT_EQ(k["events"]["thp_fault_alloc"], 4);
    EXPECT_EQ(k["events"]["huge_pmd_splits"], 4);  // munmap, mprotect, parent and child COW
    EXPECT_EQ(k["contpte"]["folds"], 0);
    EXPECT_EQ(k["contpte"]["converts"], k["contpte"]["unfolds"]);  // every convert is an unfold
    EXPECT_LT(always["pmu"]["DTLB_WALK"].get<std::uint64_t>(), never["pmu"]["DTLB_WALK"].get<std::uint64_t>());
    EXPECT_LT(k["faults"]["total"].get<std::uint64_t>(), never["kernel"]["faults"]["total"].get<std::uint64_t>());
}

TEST_F(ShippedConfigs, Bbml2RefoldLeavesFifteenConflictsPerRound) {
    const json bbml2 = run("bbml2_conflict.json");
    const json bbm = run("bbml2_conflict.json", {"--set", "platform.features.bbml2_noabort=false"});
    EXPECT_EQ(bbml2["mmu"]["tlb_conflicts"], 15 * 100);
    EXPECT_EQ(bbml2["kernel"]["contpte"]["folds"], 100);
    EXPECT_EQ(bbml2["kernel"]["contpte"]["unfolds"], 100);
    EXPECT_EQ(bbm["mmu"]["tlb_conflicts"], 0);
}

TEST_F(ShippedConfigs, KernelCompileHasTheSignsOfTheContpteMeasurement) {
    // The three columns of README "Reproducing a published result". Signs and ratios only:
    // cycle figures follow the cost model and the walker timing.
    const CliResult r = run_mmusim({"compare", (kConfigs / "kernel_compile.json").string(), "--vary",
                                    "kernel.mthp=[],[\"64K\"],[\"64K\"]", "--vary", "kernel.contpte=true,false,true", "--json"},
                                   dir.path());
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const json runs = json::parse(r.out)["runs"];
    ASSERT_EQ(runs.size(), 3u);
    struct Figures {
        double dwalks, iwalks, faults, kernel, total, user, cont;
    };
    const auto figures = [](const json& run) {
        const auto n = [&](const char* pointer) { return run.at(json::json_pointer(pointer)).get<double>(); };
        return Figures{n("/pmu/DTLB_WALK"),   n("/pmu/ITLB_WALK"), n("/kernel/faults/total"),
                       n("/kernel/cycles"),   n("/cycles"),        n("/cycles") - n("/kernel/cycles"),
                       n("/kernel/contpte/blocks_mapped_cont")};
    };
    const Figures base = figures(runs[0]), mthp = figures(runs[1]), cont = figures(runs[2]);
    EXPECT_EQ(base.cont, 0);
    EXPECT_EQ(mthp.cont, 0);
    EXPECT_GT(cont.cont, 0);
    // Fewer data walks with 64K folios, and far fewer again with contpte; code is 4K page
    // cache in every run, so instruction walks do not change.
    EXPECT_LT(mthp.dwalks, base.dwalks);
    EXPECT_LT(cont.dwalks, 0.5 * mthp.dwalks);
    EXPECT_EQ(cont.iwalks, base.iwalks);
    // Faults: about tenfold fewer with 64K folios; contpte maps them differently, not fewer.
    EXPECT_LT(mthp.faults, 0.2 * base.faults);
    EXPECT_EQ(cont.faults, mthp.faults);
    // Kernel time: below the baseline by at least the 39 % measured, and lower with contpte
    // than without.
    EXPECT_LT(cont.kernel, 0.61 * base.kernel);
    EXPECT_LT(cont.kernel, mthp.kernel);
    // User time (cycles outside the kernel) and total time: contpte < mTHP alone < baseline.
    EXPECT_LT(cont.user, mthp.user);
    EXPECT_LT(mthp.user, base.user);
    EXPECT_LT(cont.total, mthp.total);
    EXPECT_LT(mthp.total, base.total);
}

TEST_F(ShippedConfigs, StringValuesOfSetAreTakenAsTyped) {
    // 6.10 would be the number 6.1 if parsed as JSON.
    const json r = run("mprotect_churn.json", {"--set", "kernel.version=6.10"});
    EXPECT_EQ(r["config"]["kernel"]["version"], "6.10");
}

}  // namespace
}  // namespace mmusim::cli_test
