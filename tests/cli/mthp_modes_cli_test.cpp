// kernel.mthp_madvise and kernel.mthp_inherit (the sysfs modes madvise and inherit of
// hugepages-<size>kB/enabled) through the command line: validate, --set, --vary and their
// errors (item 1 of branch mthp-madvise).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/cli/cli_helpers.h"

namespace mmusim::cli_test {
namespace {

using nlohmann::json;

class MthpModesCli : public ::testing::Test {
protected:
    void SetUp() override {
        json config = generator_config(1000);
        config["workload"]["generator"]["store_fraction"] = 1.0;  // every fault allocates
        config["kernel"]["mthp"] = json::array();                  // each test picks the modes
        write_json(dir / "run.json", config);
    }
    CliResult mmusim(const std::vector<std::string>& args) { return run_mmusim(args, dir.path()); }
    ScratchDir dir;
};

TEST_F(MthpModesCli, Item1_MadviseModeSizesAreNotUsedWithoutMadvHugepage) {
    const json madvise = run_stats({"run", "run.json", "--set", "kernel.mthp_madvise=[\"64K\"]", "--json"}, dir.path());
    const json always = run_stats({"run", "run.json", "--set", "kernel.mthp=[\"64K\"]", "--json"}, dir.path());
    EXPECT_EQ(madvise["config"]["kernel"]["mthp_madvise"], json::array({"64K"}));
    EXPECT_EQ(madvise["kernel"]["folios"]["64K"], 0);  // layout auto has no MADV_HUGEPAGE VMA
    EXPECT_GT(always["kernel"]["folios"]["64K"].get<std::uint64_t>(), 0u);
    // inherit follows kernel.thp: never here, so no 64K folios either.
    const json inherit = run_stats({"run", "run.json", "--set", "kernel.mthp_inherit=[\"64K\"]", "--json"}, dir.path());
    EXPECT_EQ(inherit["kernel"]["folios"]["64K"], 0);
}

TEST_F(MthpModesCli, Item1_ValidateAndVaryAcceptTheModeKeys) {
    const CliResult v = mmusim({"validate", "run.json", "--set", "kernel.mthp_madvise=[\"16K\",\"64K\"]", "--set",
                                "kernel.mthp_inherit=[\"32K\"]"});
    EXPECT_EQ(v.exit_code, 0) << v.err;
    const CliResult c = mmusim({"compare", "run.json", "--vary", "kernel.mthp_madvise=[],[\"64K\"]", "--json"});
    ASSERT_EQ(c.exit_code, 0) << c.err;
    const json doc = json::parse(c.out);
    EXPECT_EQ(doc["runs"][1]["config"]["kernel"]["mthp_madvise"], json::array({"64K"}));
}

TEST_F(MthpModesCli, Item1_ASizeInTwoModesIsAnErrorNamingBothKeys) {
    const CliResult r = mmusim({"validate", "run.json", "--set", "kernel.mthp=[\"64K\"]", "--set",
                                "kernel.mthp_madvise=[\"16K\",\"64K\"]"});
    EXPECT_TRUE(is_clean_error(r, dir / "out", {"kernel.mthp_madvise[1]", "64K", "kernel.mthp[0]", "one sysfs mode"}))
        << r.err;
    const CliResult s = mmusim({"validate", "run.json", "--set", "kernel.mthp_inherit=[\"2M\"]"});
    EXPECT_TRUE(is_clean_error(s, dir / "out", {"kernel.mthp_inherit[0]", "2M", "not an mTHP size", "below the PMD size"}))
        << s.err;
    const CliResult t = mmusim({"validate", "run.json", "--set", "kernel.mthp_madvise=\"64K\""});
    EXPECT_TRUE(is_clean_error(t, dir / "out", {"kernel.mthp_madvise", "expected a list of sizes"})) << t.err;
}

}  // namespace
}  // namespace mmusim::cli_test
