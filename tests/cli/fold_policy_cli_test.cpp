// kernel.fold_policy, kernel.fold_scanner, kernel.fragmentation and kernel.exec_folios through
// the real program: their effect on a whole run, the scanner's timing, and their errors.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/cli/cli_helpers.h"

namespace mmusim::cli_test {
namespace {

using nlohmann::json;

const std::string kJit = (fs::path(MMUSIM_SOURCE_DIR) / "configs" / "jit_wx_flips.json").string();

std::uint64_t u(const json& v) { return v.get<std::uint64_t>(); }

// The JIT config, shortened: the heap, one round of flips and 20000 accesses per phase.
json jit(const ScratchDir& dir, const std::vector<std::string>& sets) {
    std::vector<std::string> all = {"workload.max_records=2000000"};
    all.insert(all.end(), sets.begin(), sets.end());
    return run_stats(with_sets({"run", kJit, "--json"}, all), dir.path());
}

TEST(CliFoldPolicy, EachPolicyChangesTheJitHeapAsDescribed) {
    ScratchDir dir;
    const json linux_ = jit(dir, {"kernel.fold_policy=linux"});
    const json any = jit(dir, {"kernel.fold_policy=any-entry"});
    const json scan = jit(dir, {"kernel.fold_policy=scanner"});
    const json never = jit(dir, {"kernel.fold_policy=never"});
    const json batch = jit(dir, {"kernel.fold_policy=after-batch"});
    EXPECT_EQ(linux_["kernel"]["contpte"]["fold_policy"], "linux");
    // Linux: every block unfolded once (the first flip), never refolded.
    EXPECT_EQ(u(linux_["kernel"]["contpte"]["unfolds"]), 128u);
    EXPECT_EQ(u(linux_["kernel"]["contpte"]["folds"]), 0u);
    // any-entry: every undo refolds, every flip unfolds again.
    EXPECT_EQ(u(any["kernel"]["contpte"]["folds"]), 1280u);
    EXPECT_EQ(u(any["kernel"]["contpte"]["unfolds"]), 1280u);
    EXPECT_LT(u(any["pmu"]["DTLB_WALK"]), u(linux_["pmu"]["DTLB_WALK"]) * 6 / 10);
    EXPECT_GT(u(any["kernel"]["cycles"]), u(linux_["kernel"]["cycles"]) * 2);
    // scanner: folds only in its passes, each counted under fold_scan.
    const json& s = scan["kernel"]["contpte"]["scanner"];
    EXPECT_GT(u(s["passes"]), 5u);
    EXPECT_GT(u(s["folds"]), 0u);
    EXPECT_EQ(u(s["folds"]), u(scan["kernel"]["contpte"]["folds"]));
    EXPECT_EQ(u(scan["kernel"]["by_op"]["fold_scan"]["calls"]), u(s["passes"]));
    // The passes' own time, plus the two context switches around each.
    EXPECT_GT(u(scan["kernel"]["by_op"]["fold_scan"]["cycles"]), u(s["cycles"]));
    EXPECT_LT(u(scan["pmu"]["DTLB_WALK"]), u(linux_["pmu"]["DTLB_WALK"]));
    // never and after-batch change nothing here: no fold to skip, no batch that completes a block.
    EXPECT_EQ(never["pmu"], linux_["pmu"]);
    EXPECT_EQ(batch["pmu"], linux_["pmu"]);
}

TEST(CliFoldPolicy, ScannerPassesFollowTheInterval) {
    ScratchDir dir;
    const json a = jit(dir, {"kernel.fold_policy=scanner", "kernel.fold_scanner.interval=1000000"});
    const json b = jit(dir, {"kernel.fold_policy=scanner", "kernel.fold_scanner.interval=4000000"});
    const std::uint64_t pa = u(a["kernel"]["contpte"]["scanner"]["passes"]);
    const std::uint64_t pb = u(b["kernel"]["contpte"]["scanner"]["passes"]);
    // One pass per interval of the scanning core's time (whole intervals, so +-1).
    EXPECT_NEAR(static_cast<double>(pa), static_cast<double>(u(a["cores"][0]["cycles"]) / 1000000), 1.0);
    EXPECT_NEAR(static_cast<double>(pb), static_cast<double>(u(b["cores"][0]["cycles"]) / 4000000), 1.0);
    // A smaller budget per pass looks at fewer blocks per pass.
    const json c = jit(dir, {"kernel.fold_policy=scanner", "kernel.fold_scanner.pages=256"});
    EXPECT_LE(u(c["kernel"]["contpte"]["scanner"]["blocks"]), 16 * u(c["kernel"]["contpte"]["scanner"]["passes"]));
    // Other policies never scan.
    const json l = jit(dir, {"kernel.fold_policy=linux", "kernel.fold_scanner.interval=1000000"});
    EXPECT_EQ(u(l["kernel"]["contpte"]["scanner"]["passes"]), 0u);
    EXPECT_FALSE(l["kernel"]["by_op"].contains("fold_scan"));
}

TEST(CliFoldPolicy, FragmentationFallsBackAndIsSeeded) {
    ScratchDir dir;
    const auto run = [&](const std::vector<std::string>& sets) {
        std::vector<std::string> all = {"workload.generator.store_fraction=1", "workload.generator.length=64M",
                                        "workload.generator.stride=64K", "workload.generator.pattern=strided", "kernel.mthp=[\"64K\"]"};
        all.insert(all.end(), sets.begin(), sets.end());
        write_json(dir / "gen.json", generator_config(20000));
        return run_stats(with_sets({"run", (dir / "gen.json").string(), "--json"}, all), dir.path());
    };
    const json none = run({});
    const json some = run({"kernel.fragmentation=0.2"});
    const json again = run({"kernel.fragmentation=0.2"});
    const json other = run({"kernel.fragmentation=0.2", "seed=7"});
    EXPECT_EQ(u(none["kernel"]["folio_fallbacks"]["64K"]), 0u);
    const std::uint64_t fb = u(some["kernel"]["folio_fallbacks"]["64K"]);
    EXPECT_GT(fb, 0u);
    EXPECT_EQ(again, some);
    EXPECT_NE(other["kernel"]["folio_fallbacks"], some["kernel"]["folio_fallbacks"]);
    // Each fallback maps one 4K page instead of a 64K folio.
    EXPECT_GT(u(some["kernel"]["folios"]["4K"]), u(none["kernel"]["folios"]["4K"]));
    EXPECT_LT(u(some["kernel"]["folios"]["64K"]), u(none["kernel"]["folios"]["64K"]));
}

TEST(CliFoldPolicy, BadValuesAreCleanErrors) {
    ScratchDir dir;
    write_json(dir / "gen.json", generator_config(100));
    const std::string config = (dir / "gen.json").string();
    const auto bad = [&](const std::string& set, const std::vector<std::string>& needles) {
        const CliResult r = run_mmusim({"run", config, "--set", set, "--out", (dir / "out").string()}, dir.path());
        EXPECT_TRUE(is_clean_error(r, dir / "out", needles)) << set;
    };
    bad("kernel.fold_policy=sometimes", {"kernel.fold_policy", "sometimes", "any-entry", "after-batch", "scanner", "never"});
    bad("kernel.fragmentation=1.5", {"kernel.fragmentation", "1.5", "0 to 1"});
    bad("kernel.fragmentation=\"high\"", {"kernel.fragmentation", "expected a number"});
    bad("kernel.exec_folios=3K", {"kernel.exec_folios", "3K", "none"});
    bad("kernel.exec_folios=2M", {"kernel.exec_folios", "2M", "below the PMD size"});
    bad("kernel.fold_scanner.interval=0", {"kernel.fold_scanner.interval", "out of range"});
    bad("kernel.fold_scanner.pagez=1", {"kernel.fold_scanner.pagez", "did you mean", "kernel.fold_scanner.pages"});
}

}  // namespace
}  // namespace mmusim::cli_test
