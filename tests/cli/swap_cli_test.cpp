// Swap through the real program: configs/swap_mthp.json's documented answer (a folded
// working set paged out to zram and read back whole, folded again from v6.13), the disk
// device, the kernel.swap keys and their errors.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/cli/cli_helpers.h"

namespace mmusim::cli_test {
namespace {

using nlohmann::json;

const std::string kSwap = (fs::path(MMUSIM_SOURCE_DIR) / "configs" / "swap_mthp.json").string();

std::uint64_t u(const json& v) { return v.get<std::uint64_t>(); }

json swap_run(const ScratchDir& dir, const std::vector<std::string>& sets) {
    return run_stats(with_sets({"run", kSwap, "--json"}, sets), dir.path());
}

TEST(CliSwap, ShippedConfigAnswersAsItsDescriptionSays) {
    ScratchDir dir;
    const json r = swap_run(dir, {});
    const json& k = r["kernel"];
    const json& out = k["by_op"]["madvise(pageout)"];
    EXPECT_EQ(u(out["calls"]), 1u);
    EXPECT_EQ(u(out["contpte"]["unfolds"]), 16u);
    EXPECT_EQ(u(out["tlbi"]["VALE1IS"]), 512u);
    EXPECT_EQ(u(out["barriers"]["DSB.ISH"]), 32u);
    EXPECT_EQ(u(k["swap"]["out_by_size"]["64K"]), 16u);
    EXPECT_EQ(u(k["swap"]["in_by_size"]["64K"]), 16u);
    EXPECT_EQ(u(k["swap"]["pages_out"]), 256u);
    EXPECT_EQ(u(k["swap"]["pages_in"]), 256u);
    EXPECT_EQ(u(k["faults"]["by_handler"]["swap_in_large"]), 16u);
    EXPECT_EQ(u(k["faults"]["total"]), 32u);
    EXPECT_EQ(u(r["pmu"]["L1D_TLB_REFILL"]), 32u);
    // Before v6.13, and on a disk, swap-in is page by page and the blocks never fold again.
    for (const std::string set : {"kernel.version=6.12", "kernel.swap.device=disk"}) {
        const json p = swap_run(dir, {set});
        EXPECT_EQ(u(p["kernel"]["swap"]["in_by_size"]["4K"]), 256u) << set;
        EXPECT_EQ(u(p["kernel"]["swap"]["in_by_size"]["64K"]), 0u) << set;
        EXPECT_EQ(u(p["kernel"]["faults"]["total"]), 272u) << set;
        EXPECT_GT(u(p["pmu"]["L1D_TLB_REFILL"]), 100 * u(r["pmu"]["L1D_TLB_REFILL"])) << set;
    }
    // No swap: the pageout changes nothing.
    const json none = swap_run(dir, {"kernel.swap.size=0"});
    EXPECT_EQ(u(none["kernel"]["swap"]["full"]), 16u);
    EXPECT_EQ(u(none["kernel"]["swap"]["pages_out"]), 0u);
    EXPECT_EQ(u(none["kernel"]["faults"]["total"]), 16u);
}

TEST(CliSwap, BadValuesAreCleanErrors) {
    ScratchDir dir;
    const auto bad = [&](const std::string& set, const std::vector<std::string>& needles) {
        const CliResult r = run_mmusim({"run", kSwap, "--set", set, "--out", (dir / "out").string()}, dir.path());
        EXPECT_TRUE(is_clean_error(r, dir / "out", needles)) << set << "\n" << r.err;
    };
    bad("kernel.swap.size=3M", {"kernel.swap.size", "3M", "a multiple of 2M", "up to 64G"});
    bad("kernel.swap.size=128G", {"kernel.swap.size", "128G", "up to 64G"});
    bad("kernel.swap.device=nvme", {"kernel.swap.device", "nvme", "zram", "disk"});
    // A misspelt advice in a script names the op and the advices allowed.
    json script = json::parse(read_text(kSwap));
    script["workload"]["script"]["ops"][3]["advice"] = "page-out";
    write_json(dir / "bad.json", script);
    const CliResult r = run_mmusim({"run", (dir / "bad.json").string(), "--out", (dir / "out").string()}, dir.path());
    EXPECT_TRUE(is_clean_error(r, dir / "out", {"ops[3].advice", "page-out", "pageout"})) << r.err;
}

}  // namespace
}  // namespace mmusim::cli_test
