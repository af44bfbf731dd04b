// A TLB conflict through the real program (configs/bbml2_conflict.json): a contpte refold
// whose TLBI BBML2_NOABORT skips. Counted in every run; used (smallest entry) on hardware
// without conflict aborts, a clean error naming the VA on hardware with them.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/cli/cli_helpers.h"

namespace mmusim::cli_test {
namespace {

using nlohmann::json;

const std::string kConfig = (fs::path(MMUSIM_SOURCE_DIR) / "configs" / "bbml2_conflict.json").string();

class CliConflict : public ::testing::Test {
protected:
    CliResult mmusim(const std::vector<std::string>& args) { return run_mmusim(args, dir.path()); }
    ScratchDir dir;
};

TEST_F(CliConflict, Bbml2NoabortCountsConflictsAndTheRunSucceeds) {
    const CliResult r = mmusim({"run", kConfig, "--set", "platform.features.conflict_abort=false", "--out", "out"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const json stats = json::parse(read_text(dir / "out/stats.json"));
    EXPECT_TRUE(stats["config"]["platform"]["features"]["bbml2_noabort"].get<bool>());
    EXPECT_EQ(stats["mmu"]["tlb_conflicts"], 1500);  // 15 pages per round, 100 rounds
    EXPECT_EQ(stats["cores"][0]["mmu"]["tlb_conflicts"], 1500);
    EXPECT_EQ(stats["kernel"]["contpte"]["folds"], 100);
    EXPECT_EQ(stats["kernel"]["contpte"]["unfolds"], 100);
}

TEST_F(CliConflict, WithoutBbml2EveryConvertFlushesAndNothingConflicts) {
    const CliResult r = mmusim({"compare", kConfig, "--vary", "platform.features.bbml2_noabort=false,true", "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const json cmp = json::parse(r.out);
    EXPECT_EQ(cmp["runs"][0]["mmu"]["tlb_conflicts"], 0);
    EXPECT_EQ(cmp["runs"][1]["mmu"]["tlb_conflicts"], 1500);
    // The table shows the row when a run has conflicts.
    const CliResult t = mmusim({"compare", kConfig, "--vary", "platform.features.bbml2_noabort=false,true"});
    ASSERT_EQ(t.exit_code, 0) << t.err;
    EXPECT_NE(t.out.find("tlb conflicts"), std::string::npos) << t.out;
    const CliResult none = mmusim({"compare", kConfig, "--vary", "kernel.version=6.17,6.19", "--set",
                                   "platform.features.bbml2_noabort=false"});
    ASSERT_EQ(none.exit_code, 0) << none.err;
    EXPECT_EQ(none.out.find("tlb conflicts"), std::string::npos) << none.out;
}

TEST_F(CliConflict, ConflictAbortStopsTheRunWithACleanErrorNamingTheVa) {
    const CliResult r = mmusim({"run", kConfig, "--set", "platform.features.conflict_abort=true", "--out", "out"});
    EXPECT_TRUE(is_clean_error(r, dir / "out",
                               {"TLB conflict abort", "VA 0x10000000", "2 entries cover it", "4K at VA 0x10000000",
                                "64K at VA 0x10000000"}));
    const CliResult j = mmusim({"run", kConfig, "--set", "platform.features.conflict_abort=true", "--out", "out", "--json"});
    EXPECT_TRUE(is_clean_error(j, dir / "out", {"TLB conflict abort", "VA 0x10000000"}));
}

}  // namespace
}  // namespace mmusim::cli_test
