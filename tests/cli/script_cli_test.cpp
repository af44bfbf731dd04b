// Workload scripts through the real program: `validate` reads a good script's whole stream;
// a bad script is refused by validate and run alike with one error naming the key path.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/cli/cli_helpers.h"

namespace mmusim::cli_test {
namespace {

using nlohmann::json;

json script_config(const json& ops) {
    return {{"platform", "neoverse-n1"},
            {"kernel", {{"version", "6.17"}, {"granule", "4K"}, {"mthp", {"64K"}}}},
            {"workload",
             {{"script",
               {{"regions", {{{"name", "heap"}, {"size", "1M"}}, {{"name", "buf"}, {"size", "128K"}, {"align", "64K"}}}},
                {"ops", ops}}}}},
            {"seed", 1}};
}

const json kGoodOps = {
    {{"op", "mmap"}, {"region", "heap"}},
    {{"op", "access"}, {"region", "heap"}, {"stride", "4K"}, {"mix", "store"}},
    {{"op", "loop"}, {"count", 100}, {"ops", {{{"op", "mprotect"}, {"region", "heap"}, {"offset", "64K"}, {"size", "4K"}, {"prot", "r"}},
                                              {{"op", "mprotect"}, {"region", "heap"}, {"offset", "64K"}, {"size", "4K"}, {"prot", "rw"}}}}},
    {{"op", "fork"}, {"child", "child"}},
    {{"op", "access"}, {"process", "child"}, {"region", "heap"}, {"size", "64K"}, {"pattern", "random"}, {"count", 1000},
     {"mix", {{"load", 0.7}, {"store", 0.3}}}},
    {{"op", "exit"}, {"process", "child"}},
    {{"op", "munmap"}, {"region", "heap"}}};

class CliScript : public ::testing::Test {
protected:
    CliResult mmusim(const std::vector<std::string>& args) { return run_mmusim(args, dir.path()); }

    // validate, run and run --json all refuse the config with the same error, writing nothing.
    void expect_rejected(const json& config, const std::vector<std::string>& needles, const std::vector<std::string>& extra = {}) {
        write_json(dir / "cfg/run.json", config);
        for (const std::vector<std::string>& command : {std::vector<std::string>{"validate", "cfg/run.json"},
                                                        std::vector<std::string>{"run", "cfg/run.json", "--out", "out"},
                                                        std::vector<std::string>{"run", "cfg/run.json", "--out", "out", "--json"}}) {
            std::vector<std::string> args = command;
            args.insert(args.end(), extra.begin(), extra.end());
            std::vector<std::string> all = needles;
            all.push_back("cfg/run.json");
            EXPECT_TRUE(is_clean_error(mmusim(args), dir / "out", all));
        }
        EXPECT_FALSE(fs::exists(dir / "mmusim-out"));
    }

    ScratchDir dir;
};

TEST_F(CliScript, ValidateCountsTheRecordsOfAGoodScript) {
    write_json(dir / "run.json", script_config(kGoodOps));
    CliResult r = mmusim({"validate", "run.json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.err, "");
    // 1 mmap + 256 stores + 200 mprotects + fork + 1000 accesses + exit + munmap.
    EXPECT_NE(r.out.find("valid"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("1460 records"), std::string::npos) << r.out;
    // allow_errors and max_records from the command line.
    r = mmusim({"validate", "run.json", "--set", "workload.script.allow_errors=true", "--set", "workload.max_records=5"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find(" 5 records"), std::string::npos) << r.out;
    EXPECT_TRUE(output_files(dir.path()).empty());
}

TEST_F(CliScript, UndeclaredRegionInALoop) {
    json ops = kGoodOps;
    ops[2]["ops"][1]["region"] = "hepa";
    expect_rejected(script_config(ops),
                    {"workload.script.ops[2].ops[1].region: \"hepa\" is not a declared region; did you mean \"heap\"? Declared: heap, buf"});
}

TEST_F(CliScript, UnknownKeySuggestsTheNearest) {
    json ops = kGoodOps;
    ops[1]["strid"] = "4K";
    ops[1].erase("stride");
    expect_rejected(script_config(ops), {"unknown key \"workload.script.ops[1].strid\"", "did you mean \"workload.script.ops[1].stride\"",
                                         "Keys allowed in workload.script.ops[1] (op access)"});
}

TEST_F(CliScript, ExitOfMain) {
    json ops = kGoodOps;
    ops[5]["process"] = "main";
    expect_rejected(script_config(ops), {"workload.script.ops[5].process", "\"main\" cannot exit"});
}

TEST_F(CliScript, OverlappingRegions) {
    json config = script_config(kGoodOps);
    config["workload"]["script"]["regions"].push_back({{"name", "fixed"}, {"size", "64K"}, {"addr", "0x10080000"}});
    expect_rejected(config, {"workload.script.regions[2]", "\"fixed\"", "overlaps \"heap\""});
}

TEST_F(CliScript, BadAllowErrorsFromSet) {
    expect_rejected(script_config(kGoodOps), {"(with --set overrides)", "workload.script.allow_errors", "\"perhaps\"", "true or false"},
                    {"--set", "workload.script.allow_errors=perhaps"});
}

TEST_F(CliScript, ScriptAndGeneratorTogether) {
    json config = script_config(kGoodOps);
    config["workload"]["generator"] = {{"pattern", "sequential"}, {"length", "1M"}, {"count", 10}};
    expect_rejected(config, {"workload: has \"generator\" and \"script\"", "give exactly one"});
}

// arm64 has userfaultfd write-protect from Linux 6.10: on 6.9 a register asking for it is
// refused before the run, naming the op, unless the script counts failures; then the call
// is answered EINVAL as Linux answers it, and the script goes on.
TEST_F(CliScript, UffdWpOn69IsRefusedNamingTheOp) {
    const json ops = {{{"op", "mmap"}, {"region", "heap"}},
                      {{"op", "loop"}, {"count", 2}, {"ops", {{{"op", "uffd_register"}, {"region", "heap"}, {"mode", {"missing", "wp"}}},
                                                              {{"op", "uffd_unregister"}, {"region", "heap"}}}}}};
    json config = script_config(ops);
    config["kernel"]["version"] = "6.9";
    expect_rejected(config, {"workload.script.ops[1].ops[0].mode: \"wp\"", "only from 6.10", "kernel.version 6.9",
                             "EINVAL", "allow_errors"});
    config["workload"]["script"]["allow_errors"] = true;
    write_json(dir / "cfg/run.json", config);
    CliResult r = mmusim({"run", "cfg/run.json", "--out", "out", "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    json doc = json::parse(r.out);
    EXPECT_EQ(doc["kernel"]["by_op"]["uffd_register"]["results"]["EINVAL"], 2);
    // The same script on 6.10 registers.
    config["kernel"]["version"] = "6.10";
    config["workload"]["script"]["allow_errors"] = false;
    write_json(dir / "cfg/run.json", config);
    r = mmusim({"run", "cfg/run.json", "--out", "out2", "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    doc = json::parse(r.out);
    EXPECT_EQ(doc["kernel"]["by_op"]["uffd_register"]["results"]["0"], 2);
}

}  // namespace
}  // namespace mmusim::cli_test
