// The command line, run as a user runs it: bad inputs give one clear error and write nothing;
// good ones give the statistics document, deterministic to the byte.
#include <gtest/gtest.h>

#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/cli/cli_helpers.h"

namespace mmusim::cli_test {
namespace {

using nlohmann::json;

// Each test gets its own folder; the program runs with that folder as working directory.
class CliFixture : public ::testing::Test {
protected:
    CliResult mmusim(const std::vector<std::string>& args) { return run_mmusim(args, dir.path()); }

    ScratchDir dir;
};

// Bad inputs: `run`, `run --json` and (where the workload is only opened) `validate` must all
// refuse the input with the same error.
class CliBadInput : public CliFixture {
protected:
    // `command` is "run CONFIG [options]" without --out; it is run as given and with --json,
    // both with --out pointing at a folder that must stay free of statistics.
    void expect_rejected(const std::vector<std::string>& command, const std::vector<std::string>& needles,
                         bool check_validate = true) {
        for (const bool json_flag : {false, true}) {
            std::vector<std::string> args = command;
            args.insert(args.end(), {"--out", "out"});
            if (json_flag) args.push_back("--json");
            EXPECT_TRUE(is_clean_error(mmusim(args), dir / "out", needles));
        }
        if (check_validate) {
            std::vector<std::string> args = command;
            args.front() = "validate";
            EXPECT_TRUE(is_clean_error(mmusim(args), dir / "out", needles));
        }
        EXPECT_FALSE(fs::exists(dir / "mmusim-out")) << "the default output folder was created";
    }
};

// 1. A trace that is not there; the path in the config is relative to the config's folder.
TEST_F(CliBadInput, MissingTraceFile) {
    write_json(dir / "cfg/run.json", trace_config("traces/absent.lackey"));
    expect_rejected({"run", "cfg/run.json"}, {"cfg/run.json", "workload.trace.path", "cfg/traces/absent.lackey", "does not exist"});
}

// 2. A text file of prose is not a lackey trace.
TEST_F(CliBadInput, ProseIsNotALackeyTrace) {
    std::string prose;
    for (int i = 1; i <= 1500; ++i)
        prose += "It was a bright cold day in April, and the clocks were striking thirteen (" + std::to_string(i) + ").\n";
    write_text(dir / "novel.txt", prose);
    write_json(dir / "run.json", trace_config("novel.txt"));
    expect_rejected({"run", "run.json"},
                    {"novel.txt", "is not a lackey trace", "first 1000 lines", "It was a bright cold day", "I  04017e40,3"});
}

// 3. A gzip trace cut in the middle, as by an interrupted copy.
TEST_F(CliBadInput, TruncatedGzipTrace) {
    write_gzip(dir / "whole.lackey.gz", lackey_trace(20000));
    const std::string whole = read_text(dir / "whole.lackey.gz");
    ASSERT_GT(whole.size(), 4096u);
    write_text(dir / "cut.lackey.gz", whole.substr(0, whole.size() / 2));
    write_json(dir / "run.json", trace_config("cut.lackey.gz"));
    // validate streams the whole trace, so it finds the cut too.
    expect_rejected({"run", "run.json"}, {"cut.lackey.gz", "gzip", "truncated"});
}

// 4. A line that begins like a record but does not parse names its line number.
TEST_F(CliBadInput, MalformedLineNamesItsNumber) {
    write_text(dir / "bad.lackey",
               "I  04017e40,3\n"
               " L 1ffefffd80,8\n"
               " S 1ffefffd88,8\n"
               " M 1ffefffd90,4\n"
               " L zz12,8\n"
               "I  04017e44,3\n"
               " L 1ffefffd80,8\n"
               " S 1ffefffd88,8\n"
               " L 1ffefffd80,8\n"
               "I  04017e48,3\n");
    write_json(dir / "run.json", trace_config("bad.lackey"));
    expect_rejected({"run", "run.json"}, {"bad.lackey:5:", "zz12", "expected a hex address"});
}

// 5. Unknown keys suggest the nearest known one, with the full key path.
TEST_F(CliBadInput, UnknownKeyInInlinePlatform) {
    json config = generator_config(1000);
    config["platform"] = {{"name", "tiny"},
                          {"tlb", {{"l2", {{"entries", 1280}, {"wayz", 5}}}}}};
    write_json(dir / "run.json", config);
    expect_rejected({"run", "run.json"},
                    {"run.json", "\"platform.tlb.l2.wayz\"", "did you mean \"platform.tlb.l2.ways\"", "entries, ways, sizes"});
}

TEST_F(CliBadInput, UnknownTopLevelKey) {
    json config = generator_config(1000);
    config["kernal"] = config["kernel"];
    config.erase("kernel");
    write_json(dir / "run.json", config);
    expect_rejected({"run", "run.json"},
                    {"run.json", "\"kernal\"", "did you mean \"kernel\"", "platform, kernel, workload, seed"});
}

// 6. A value of the wrong type.
TEST_F(CliBadInput, WrongType) {
    json config = generator_config(1000);
    config["kernel"]["contpte"] = "yes";
    write_json(dir / "run.json", config);
    expect_rejected({"run", "run.json"}, {"run.json", "kernel.contpte", "\"yes\"", "a string", "true or false"});
}

// 7. ways must divide entries, also when set from the command line over a preset.
TEST_F(CliBadInput, WaysNotDividingEntries) {
    write_json(dir / "run.json", generator_config(1000));
    expect_rejected({"run", "run.json", "--set", "platform.tlb.l2.ways=7"},
                    {"run.json", "--set", "platform.tlb.l2.ways", "7 does not divide entries (1280)"});
}

// 8. A size that has no name.
TEST_F(CliBadInput, UnknownSizeName) {
    json config = generator_config(1000);
    config["platform"] = {{"tlb", {{"l1d", {{"sizes", {"4K", "3X"}}}}}}};
    write_json(dir / "run.json", config);
    expect_rejected({"run", "run.json"},
                    {"run.json", "platform.tlb.l1d.sizes[1]", "\"3X\"", "not a size name", "4K, 16K, 64K, 2M"});
}

// 9. A TLB level that holds no size at all.
TEST_F(CliBadInput, EmptySizes) {
    json config = generator_config(1000);
    config["platform"] = {{"tlb", {{"l1d", {{"sizes", json::array()}}}}}};
    write_json(dir / "run.json", config);
    expect_rejected({"run", "run.json"}, {"run.json", "platform.tlb.l1d.sizes", "empty", "at least one entry size"});
}

// 10. --set of a key the schema does not know is refused like an unknown key in the file.
TEST_F(CliBadInput, SetUnknownKey) {
    write_json(dir / "run.json", generator_config(1000));
    expect_rejected({"run", "run.json", "--set", "kernel.contpt=true"},
                    {"--set kernel.contpt=true", "\"kernel.contpt\"", "did you mean \"kernel.contpte\""});
}

// 11. JSON syntax errors name file:line:column.
TEST_F(CliBadInput, InvalidJsonSyntax) {
    write_text(dir / "broken.json",
               "{\n"
               "  \"kernel\": { \"contpte\": true },\n"
               "  \"seed\": 1,,\n"
               "  \"workload\": {}\n"
               "}\n");
    expect_rejected({"run", "broken.json"}, {"broken.json:3:13:", "not valid JSON"});
}

TEST_F(CliBadInput, MissingConfigFile) {
    expect_rejected({"run", "nowhere.json"}, {"nowhere.json", "cannot be read", "No such file or directory"});
}

// 12. Values the schema knows but the model does not support yet name the key.
TEST_F(CliBadInput, ThpOutsideItsChoices) {
    write_json(dir / "run.json", generator_config(1000));
    expect_rejected({"run", "run.json", "--set", "kernel.thp=sometimes"},
                    {"kernel.thp", "sometimes", "never", "always", "madvise"});
}

// Generator values that pass the schema but not the generator's own rules name what was found.
TEST_F(CliBadInput, GeneratorRulesNameTheValueFound) {
    write_json(dir / "run.json", generator_config(1000));
    expect_rejected({"run", "run.json", "--set", "workload.generator.base=0x800", "--set", "workload.generator.length=64K"},
                    {"workload.generator.base", "found 0x800 with length 64K", "48-bit user address space"});
    expect_rejected({"run", "run.json", "--set", "workload.generator.base=\"0x-1000\""},
                    {"workload.generator.base", "\"0x-1000\" is not an address"});
    expect_rejected({"run", "run.json", "--set", "workload.generator.zipf_item=2M"},
                    {"workload.generator.zipf_item", "found 2M", "at most length (1M)"});
}

TEST_F(CliBadInput, MoreThreadsThanCores) {
    write_json(dir / "run.json", generator_config(1000));
    expect_rejected({"run", "run.json", "--set", "workload.threads=3", "--set", "platform.cores=2"},
                    {"workload.threads", "3 threads", "the platform has 2", "one thread per core"});
}

TEST_F(CliBadInput, PlacementOnAMissingOrBusyCore) {
    write_json(dir / "run.json", generator_config(1000));
    expect_rejected({"run", "run.json", "--set", "workload.threads=2", "--set", "platform.cores=2", "--set",
                     "workload.placement=[0,2]"},
                    {"workload.placement[1]", "found 2", "from 0 to 1"});
    expect_rejected({"run", "run.json", "--set", "workload.threads=2", "--set", "platform.cores=4", "--set",
                     "workload.placement=[3,3]"},
                    {"workload.placement[1]", "core 3 already runs another thread"});
    expect_rejected({"run", "run.json", "--set", "workload.threads=2", "--set", "platform.cores=4", "--set",
                     "workload.placement=[1]"},
                    {"workload.placement", "1 core(s) for 2 thread(s)"});
}

// compare refuses a bad variant before running any, and writes nothing.
TEST_F(CliBadInput, CompareWithUnknownVaryKey) {
    write_json(dir / "run.json", generator_config(1000));
    const CliResult r = mmusim({"compare", "run.json", "--vary", "kernel.contpt=false,true", "--out", "out"});
    EXPECT_TRUE(is_clean_error(r, dir / "out", {"\"kernel.contpt\"", "did you mean \"kernel.contpte\""}));
}

// Positive runs.
class CliRun : public CliFixture {};

TEST_F(CliRun, JsonPrintsOneStatisticsDocument) {
    write_json(dir / "run.json", generator_config(1000));
    const CliResult r = mmusim({"run", "run.json", "--out", "out", "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.err, "");
    json doc;
    ASSERT_NO_THROW(doc = json::parse(r.out)) << r.out;  // one document, nothing after it
    EXPECT_EQ(doc.value("schema", ""), "mmusim-stats/1");
    for (const char* key : {"L1D_TLB", "L1D_TLB_REFILL", "L1I_TLB", "L1I_TLB_REFILL", "L2D_TLB", "L2D_TLB_REFILL",
                            "DTLB_WALK", "ITLB_WALK", "INST_RETIRED"}) {
        ASSERT_TRUE(doc["pmu"].contains(key)) << key;
        EXPECT_TRUE(doc["pmu"][key].is_number_unsigned()) << key << " = " << doc["pmu"][key];
    }
    EXPECT_GE(doc["pmu"]["L1D_TLB"].get<std::uint64_t>(), 1000u);
    ASSERT_TRUE(doc["config"]["platform"].is_object()) << "the resolved platform is inlined";
    EXPECT_EQ(doc["config"]["platform"]["name"], "neoverse-n1");
    EXPECT_EQ(doc["config"]["platform"]["tlb"]["l2"]["entries"], 1280);
    EXPECT_EQ(doc["config"]["platform"]["tlb"]["l2"]["ways"], 5);
    EXPECT_EQ(doc["config"]["kernel"]["contpte"], true);
    for (const char* section : {"faults", "folios", "contpte", "pte_ops", "tlbi", "barriers"})
        EXPECT_TRUE(doc["kernel"].contains(section)) << "kernel." << section;
    // The same document is the statistics file.
    EXPECT_EQ(read_text(dir / "out/stats.json"), r.out);
    EXPECT_EQ(output_files(dir / "out"), std::vector<std::string>{(dir / "out/stats.json").string()});
}

TEST_F(CliRun, DefaultOutputFolderAndSummary) {
    write_json(dir / "run.json", generator_config(1000));
    const CliResult r = mmusim({"run", "run.json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.err, "");
    EXPECT_NE(r.out.find("mmusim-out/stats.json"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("L1D_TLB"), std::string::npos) << r.out;
    const json doc = json::parse(read_text(dir / "mmusim-out/stats.json"));
    EXPECT_EQ(doc.value("schema", ""), "mmusim-stats/1");
}

// --set applies after the preset is loaded, and equally to an inline platform.
TEST_F(CliRun, SetOverridesPresetAndInlinePlatform) {
    write_json(dir / "preset.json", generator_config(1000));
    json inline_config = generator_config(1000);
    inline_config["platform"] = {{"name", "inline"}, {"tlb", {{"l2", {{"entries", 1024}, {"ways", 8}}}}}};
    write_json(dir / "inline.json", inline_config);

    for (const auto& [file, entries] : {std::pair<std::string, int>{"preset.json", 1280}, {"inline.json", 1024}}) {
        const CliResult r = mmusim({"run", file, "--set", "platform.tlb.l2.ways=4", "--out", "out-" + file, "--json"});
        ASSERT_EQ(r.exit_code, 0) << file << ": " << r.err;
        const json doc = json::parse(r.out);
        EXPECT_EQ(doc["config"]["platform"]["tlb"]["l2"]["ways"], 4) << file;
        EXPECT_EQ(doc["config"]["platform"]["tlb"]["l2"]["entries"], entries) << file;
    }
}

// kernel.folios and kernel.folio_fallbacks list every folio size of the granule, whatever the
// config enables (spec/mmu.md §5: keys are stable).
TEST_F(CliRun, FolioKeysDoNotDependOnTheConfig) {
    json config = generator_config(1000);
    config["workload"]["generator"]["store_fraction"] = 1.0;  // no zero page: every fault allocates
    write_json(dir / "run.json", config);
    const auto keys = [](const json& o) {
        std::vector<std::string> k;
        for (const auto& [key, value] : o.items()) k.push_back(key);
        return k;
    };
    const json none = run_stats({"run", "run.json", "--set", "kernel.mthp=[]", "--json"}, dir.path());
    const json some = run_stats({"run", "run.json", "--set", "kernel.mthp=[\"64K\"]", "--json"}, dir.path());
    const std::vector<std::string> sizes = {"128K", "16K", "1M", "256K", "2M", "32K", "4K", "512K", "64K", "8K"};
    EXPECT_EQ(keys(none["kernel"]["folios"]), sizes);
    EXPECT_EQ(keys(some["kernel"]["folios"]), sizes);
    EXPECT_EQ(none["kernel"]["folios"]["64K"], 0);
    EXPECT_GT(some["kernel"]["folios"]["64K"].get<std::uint64_t>(), 0u);
    EXPECT_EQ(keys(none["kernel"]["folio_fallbacks"]), keys(some["kernel"]["folio_fallbacks"]));
    EXPECT_EQ(none["kernel"]["folio_fallbacks"].size(), 9u);  // the large sizes, 8K to 2M
}

// The same config gives the same statistics file, byte for byte.
TEST_F(CliRun, DeterministicGenerator) {
    json config = generator_config(200000);
    config["workload"]["generator"]["pattern"] = "uniform";
    config["workload"]["generator"]["length"] = "64M";
    config["workload"]["generator"]["code_length"] = "16K";
    config["seed"] = 7;
    write_json(dir / "run.json", config);
    ASSERT_EQ(mmusim({"run", "run.json", "--out", "a"}).exit_code, 0);
    ASSERT_EQ(mmusim({"run", "run.json", "--out", "b"}).exit_code, 0);
    const std::string a = read_text(dir / "a/stats.json");
    ASSERT_FALSE(a.empty());
    EXPECT_TRUE(a == read_text(dir / "b/stats.json")) << "two runs of the same config differ";
    EXPECT_EQ(json::parse(a)["workload"]["records"], 400000);
}

TEST_F(CliRun, DeterministicTrace) {
    write_text(dir / "small.lackey", lackey_trace(3000));
    write_json(dir / "run.json", trace_config("small.lackey"));
    ASSERT_EQ(mmusim({"run", "run.json", "--out", "a"}).exit_code, 0);
    ASSERT_EQ(mmusim({"run", "run.json", "--out", "b"}).exit_code, 0);
    const std::string a = read_text(dir / "a/stats.json");
    ASSERT_FALSE(a.empty());
    EXPECT_TRUE(a == read_text(dir / "b/stats.json")) << "two runs of the same trace differ";
}

// Compression is detected from content: a gzip file without a .gz name reads like the plain one.
TEST_F(CliRun, GzipAndPlainTraceGiveTheSameCounters) {
    const std::string trace = lackey_trace(3000);
    write_text(dir / "plain.lackey", trace);
    write_gzip(dir / "packed.lackey", trace);
    ASSERT_NE(read_text(dir / "packed.lackey"), trace);
    write_json(dir / "plain.json", trace_config("plain.lackey"));
    write_json(dir / "packed.json", trace_config("packed.lackey"));
    const CliResult plain = mmusim({"run", "plain.json", "--out", "p", "--json"});
    const CliResult packed = mmusim({"run", "packed.json", "--out", "z", "--json"});
    ASSERT_EQ(plain.exit_code, 0) << plain.err;
    ASSERT_EQ(packed.exit_code, 0) << packed.err;
    const json a = json::parse(plain.out);
    const json b = json::parse(packed.out);
    EXPECT_EQ(a["workload"]["records"], 6000);
    EXPECT_EQ(a["workload"]["records"], b["workload"]["records"]);
    EXPECT_EQ(a["pmu"], b["pmu"]);
    EXPECT_EQ(a["pmu"]["INST_RETIRED"], 3000);
}

class CliValidate : public CliFixture {};

TEST_F(CliValidate, GoodConfigPassesAndRunsNothing) {
    write_text(dir / "t.lackey", lackey_trace(100));
    write_json(dir / "trace.json", trace_config("t.lackey"));
    write_json(dir / "gen.json", generator_config(1000));
    for (const char* file : {"trace.json", "gen.json"}) {
        const CliResult r = mmusim({"validate", file});
        EXPECT_EQ(r.exit_code, 0) << file << ": " << r.err;
        EXPECT_EQ(r.err, "");
        EXPECT_NE(r.out.find("valid"), std::string::npos) << r.out;
    }
    EXPECT_TRUE(output_files(dir.path()).empty());
    EXPECT_FALSE(fs::exists(dir / "mmusim-out"));
}

TEST_F(CliValidate, BadConfigFails) {
    json config = generator_config(1000);
    config["workload"]["generator"]["pattern"] = "spiral";
    write_json(dir / "run.json", config);
    const CliResult r = mmusim({"validate", "run.json"});
    EXPECT_TRUE(is_clean_error(r, dir.path(), {"run.json", "workload.generator.pattern", "\"spiral\"", "sequential"}));
}

class CliCompare : public CliFixture {};

TEST_F(CliCompare, TableOfContpteOffAndOn) {
    write_json(dir / "run.json", generator_config(20000));
    const CliResult r = mmusim({"compare", "run.json", "--vary", "kernel.contpte=false,true"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.err, "");
    std::istringstream lines(r.out);
    std::string first;
    std::getline(lines, first);
    EXPECT_EQ(first.rfind("kernel.contpte", 0), 0u) << r.out;
    EXPECT_NE(first.find("false"), std::string::npos) << first;
    EXPECT_NE(first.find("true"), std::string::npos) << first;
    std::set<std::string> rows;
    for (std::string line; std::getline(lines, line);) rows.insert(line.substr(0, line.find(' ')));
    EXPECT_TRUE(rows.count("L1D_TLB")) << r.out;
    EXPECT_TRUE(rows.count("DTLB_WALK")) << r.out;
    EXPECT_FALSE(fs::exists(dir / "mmusim-out"));
}

TEST_F(CliCompare, JsonAndOutFolder) {
    write_json(dir / "run.json", generator_config(20000));
    const CliResult r = mmusim({"compare", "run.json", "--vary", "kernel.contpte=false,true", "--json", "--out", "cmp"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    json doc;
    ASSERT_NO_THROW(doc = json::parse(r.out)) << r.out;
    EXPECT_EQ(doc["vary"], "kernel.contpte");
    ASSERT_EQ(doc["runs"].size(), 2u);
    EXPECT_EQ(doc["runs"][0]["config"]["kernel"]["contpte"], false);
    EXPECT_EQ(doc["runs"][1]["config"]["kernel"]["contpte"], true);
    EXPECT_TRUE(fs::exists(dir / "cmp/compare.json"));
    EXPECT_TRUE(fs::exists(dir / "cmp/run0/stats.json"));
    EXPECT_TRUE(fs::exists(dir / "cmp/run1/stats.json"));
}

TEST_F(CliCompare, RepeatedVaryOptionsAreVariedTogether) {
    write_json(dir / "run.json", generator_config(20000));
    const CliResult r = mmusim({"compare", "run.json", "--vary", "kernel.mthp=[],[\"64K\"],[\"64K\"]", "--vary",
                                "kernel.contpte=true,false,true", "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const json doc = json::parse(r.out);
    EXPECT_EQ(doc["vary"], "kernel.mthp / kernel.contpte");
    EXPECT_EQ(doc["values"], json::array({"[] / true", "[\"64K\"] / false", "[\"64K\"] / true"}));
    ASSERT_EQ(doc["runs"].size(), 3u);
    EXPECT_EQ(doc["runs"][0]["config"]["kernel"]["mthp"], json::array());
    EXPECT_EQ(doc["runs"][1]["config"]["kernel"]["mthp"], json::array({"64K"}));
    EXPECT_EQ(doc["runs"][1]["config"]["kernel"]["contpte"], false);
    EXPECT_EQ(doc["runs"][2]["config"]["kernel"]["contpte"], true);
    const CliResult t = mmusim({"compare", "run.json", "--vary", "kernel.mthp=[],[\"64K\"]", "--vary", "kernel.contpte=false,true"});
    ASSERT_EQ(t.exit_code, 0) << t.err;
    EXPECT_EQ(t.out.rfind("kernel.mthp / kernel.contpte", 0), 0u) << t.out;
}

TEST_F(CliCompare, RepeatedVaryOptionsNeedAsManyValuesAndDistinctKeys) {
    write_json(dir / "run.json", generator_config(1000));
    EXPECT_TRUE(is_clean_error(
        mmusim({"compare", "run.json", "--vary", "kernel.contpte=false,true", "--vary", "kernel.kpti=false,true,false"}),
        dir.path(), {"--vary kernel.kpti=false,true,false", "3 values", "has 2", "varied together"}));
    EXPECT_TRUE(is_clean_error(mmusim({"compare", "run.json", "--vary", "kernel.contpte=false,true", "--vary", "kernel.contpte=true,false"}),
                               dir.path(), {"kernel.contpte is already varied"}));
}

}  // namespace
}  // namespace mmusim::cli_test
