// The cost table is data: each system call and each context switch adds its platform cost to
// the kernel's cycles, and nothing else changes with it.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/cli/cli_helpers.h"

namespace mmusim::cli_test {
namespace {

using nlohmann::json;

json run_fork_cow(const ScratchDir& dir, const std::vector<std::string>& sets) {
    const std::string config = (fs::path(MMUSIM_SOURCE_DIR) / "configs" / "fork_cow.json").string();
    return run_stats(with_sets({"run", config, "--json"}, sets), dir.path());
}

std::uint64_t u(const json& v) { return v.get<std::uint64_t>(); }

TEST(CliCosts, SyscallAndContextSwitchCostsAreChargedPerEvent) {
    ScratchDir dir;
    const json zero = run_fork_cow(dir, {"platform.costs.syscall_entry_exit=0", "platform.costs.context_switch=0"});
    const json sys = run_fork_cow(dir, {"platform.costs.syscall_entry_exit=1000", "platform.costs.context_switch=0"});
    const json ctx = run_fork_cow(dir, {"platform.costs.syscall_entry_exit=0", "platform.costs.context_switch=3000"});
    const std::uint64_t syscalls = u(zero["workload"]["syscalls"]);
    const std::uint64_t switches = u(zero["kernel"]["events"]["context_switches"]);
    ASSERT_GT(syscalls, 0u);
    ASSERT_GT(switches, 0u);
    EXPECT_EQ(u(sys["kernel"]["cycles"]) - u(zero["kernel"]["cycles"]), 1000 * syscalls);
    EXPECT_EQ(u(ctx["kernel"]["cycles"]) - u(zero["kernel"]["cycles"]), 3000 * switches);
    // The events themselves do not depend on what they cost.
    EXPECT_EQ(sys["kernel"]["pte_ops"], zero["kernel"]["pte_ops"]);
    EXPECT_EQ(ctx["kernel"]["tlbi"], zero["kernel"]["tlbi"]);
    // Per operation: a fork's cycles include its entry and exit.
    EXPECT_EQ(u(sys["kernel"]["by_op"]["fork"]["cycles"]) - u(zero["kernel"]["by_op"]["fork"]["cycles"]),
              1000 * u(zero["kernel"]["by_op"]["fork"]["calls"]));
}

json run_trace(const ScratchDir& dir, const std::string& cpi) {
    write_text(dir / "t.lackey", lackey_trace(3000));
    write_json(dir / "run.json", trace_config("t.lackey"));
    const CliResult r = run_mmusim({"run", "run.json", "--json", "--set", "platform.cpi=" + cpi}, dir.path());
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.exit_code == 0 ? json::parse(r.out) : json::object();
}

TEST(CliCosts, BaseCpiAddsItsCyclesPerInstruction) {
    ScratchDir dir;
    const json none = run_trace(dir, "0");
    const json some = run_trace(dir, "2.5");
    const std::uint64_t inst = u(none["pmu"]["INST_RETIRED"]);
    ASSERT_EQ(inst, 3000u);
    // 2.5 cycles per instruction, the half cycles carried: exactly 7500 more.
    EXPECT_EQ(u(some["cores"][0]["cycles"]) - u(none["cores"][0]["cycles"]), 7500u);
    EXPECT_EQ(some["pmu"], none["pmu"]);  // timing only
}

TEST(CliCosts, ACpiOutsideItsRangeIsRefused) {
    ScratchDir dir;
    write_json(dir / "run.json", generator_config(100));
    const CliResult r = run_mmusim({"run", "run.json", "--set", "platform.cpi=-1"}, dir.path());
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.err.find("platform.cpi"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("0 to 100"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace mmusim::cli_test
