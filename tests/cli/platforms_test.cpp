// The platform presets and `mmusim platforms`, run as a user runs them: every preset in
// platforms/ loads and runs, the listing shows each one with the figures of its file, and a
// broken preset stops the listing with a clear error naming the file.
#include <gtest/gtest.h>

#include <stdlib.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sim/config.h"
#include "tests/cli/cli_helpers.h"

namespace mmusim::cli_test {
namespace {

using nlohmann::json;

// The shipped presets and their L2 TLB sizes, as their files state them.
const std::map<std::string, std::int64_t> kPresetL2Entries = {
    {"ampereone", 2048},   {"cortex-a710", 1024}, {"cortex-x2", 2048},
    {"neoverse-n1", 1280}, {"neoverse-n2", 1280}, {"neoverse-v1", 2048},
};

// The preset file itself, read without the program's loader.
json preset_file(const std::string& name) {
    return json::parse(read_text(fs::path(MMUSIM_SOURCE_DIR) / "platforms" / (name + ".json")));
}

// Sets an environment variable for the lifetime of the object (child processes inherit it),
// then restores the previous value.
class ScopedEnv {
public:
    ScopedEnv(const char* name, const std::string& value) : m_name(name) {
        if (const char* old = std::getenv(name)) m_old = old;
        setenv(name, value.c_str(), 1);
    }
    ~ScopedEnv() {
        if (m_old) setenv(m_name, m_old->c_str(), 1);
        else unsetenv(m_name);
    }
    ScopedEnv(const ScopedEnv&) = delete;
    ScopedEnv& operator=(const ScopedEnv&) = delete;

private:
    const char* m_name;
    std::optional<std::string> m_old;
};

class CliPlatforms : public ::testing::Test {
protected:
    CliResult mmusim(const std::vector<std::string>& args) { return run_mmusim(args, dir.path()); }

    ScratchDir dir;
};

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

TEST_F(CliPlatforms, PresetFolderHoldsExactlyTheShippedPresets) {
    std::vector<std::string> want;
    for (const auto& [name, entries] : kPresetL2Entries) want.push_back(name);
    EXPECT_EQ(sim::platform_preset_names(), want);
    for (const auto& [name, entries] : kPresetL2Entries) {
        const json p = preset_file(name);
        EXPECT_EQ(p["name"], name) << "the name inside " << name << ".json";
        EXPECT_EQ(p["cores"], 1) << name;
        EXPECT_EQ(p["tlb"]["l2"]["entries"], entries) << name;
        EXPECT_GT(p["description"].get<std::string>().size(), 200u) << name << ": the description names the sources";
    }
}

TEST_F(CliPlatforms, EveryPresetValidatesAndRunsAGenerator) {
    write_json(dir / "gen.json", generator_config(5000));
    for (const auto& [name, entries] : kPresetL2Entries) {
        SCOPED_TRACE(name);
        const CliResult v = mmusim({"validate", "gen.json", "--set", "platform=" + name});
        ASSERT_EQ(v.exit_code, 0) << v.err;
        EXPECT_NE(v.out.find("platform " + name), std::string::npos) << v.out;

        const CliResult r = mmusim({"run", "gen.json", "--set", "platform=" + name, "--out", "out-" + name, "--json"});
        ASSERT_EQ(r.exit_code, 0) << r.err;
        const json stats = json::parse(r.out);
        const json file = preset_file(name);
        const json& used = stats["config"]["platform"];
        EXPECT_EQ(used["name"], name);
        for (const char* level : {"l1i", "l1d", "l2"}) {
            EXPECT_EQ(used["tlb"][level]["entries"], file["tlb"][level]["entries"]) << level;
            EXPECT_EQ(used["tlb"][level]["ways"], file["tlb"][level]["ways"]) << level;
            EXPECT_EQ(used["tlb"][level]["sizes"], file["tlb"][level]["sizes"]) << level;
        }
        EXPECT_EQ(used["features"], file["features"]);
        EXPECT_EQ(used["memory"]["latency"], file["memory"]["latency"]);
        EXPECT_EQ(stats["pmu"]["L1D_TLB"], 5000 + stats["kernel"]["faults"]["total"].get<std::int64_t>())
            << "one attempt per access plus one per fault";
        EXPECT_GT(stats["cycles"].get<std::int64_t>(), 0);
    }
}

TEST_F(CliPlatforms, TableListsEveryPresetSortedAndAligned) {
    const CliResult r = mmusim({"platforms"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.err, "");
    const std::vector<std::string> lines = lines_of(r.out);
    ASSERT_EQ(lines.size(), 2 + kPresetL2Entries.size()) << r.out;
    const std::string& header = lines[0];
    ASSERT_EQ(header.rfind("name", 0), 0u) << header;
    EXPECT_EQ(lines[1].find_first_not_of('-'), std::string::npos) << "a rule under the header";
    const std::size_t l2_column = header.find("L2 TLB");
    const std::size_t mem_column = header.find("memory latency");
    ASSERT_NE(l2_column, std::string::npos);
    ASSERT_NE(mem_column, std::string::npos);

    std::size_t row = 2;
    for (const auto& [name, entries] : kPresetL2Entries) {  // std::map: sorted by name
        SCOPED_TRACE(name);
        const std::string& line = lines[row++];
        EXPECT_EQ(line.substr(0, name.size() + 1), name + " ");
        const json file = preset_file(name);
        // The L2 column starts with the entry count, under its header.
        EXPECT_EQ(line.substr(l2_column, std::to_string(entries).size() + 1), std::to_string(entries) + " ") << line;
        const std::string mem = std::to_string(file["memory"]["latency"].get<std::int64_t>());
        EXPECT_EQ(line.substr(mem_column), mem) << line;
    }
}

TEST_F(CliPlatforms, JsonAgreesWithTheFiles) {
    const CliResult r = mmusim({"platforms", "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const json doc = json::parse(r.out);
    EXPECT_EQ(doc["folder"], sim::platform_dir());
    const json& list = doc["platforms"];
    ASSERT_EQ(list.size(), kPresetL2Entries.size());
    std::size_t i = 0;
    for (const auto& [name, entries] : kPresetL2Entries) {
        SCOPED_TRACE(name);
        const json& p = list[i++];
        const json file = preset_file(name);
        EXPECT_EQ(p["name"], name);
        EXPECT_EQ(fs::path(p["file"].get<std::string>()).filename(), name + ".json");
        for (const char* level : {"l1i", "l1d", "l2"})
            for (const char* key : {"entries", "ways", "sizes", "latency"})
                EXPECT_EQ(p["tlb"][level][key], file["tlb"][level][key]) << level << "." << key;
        EXPECT_EQ(p["tlb"]["l2"]["entries"], entries);
        for (const char* feature : {"hafdbs", "tlbirange", "bbml2_noabort", "conflict_abort", "repeat_tlbi", "erratum_2645198"})
            EXPECT_EQ(p["features"][feature], file["features"][feature]) << feature;
        EXPECT_EQ(p["memory"]["latency"], file["memory"]["latency"]);
        EXPECT_EQ(p["memory"]["size"], file["memory"]["size"]);
    }
}

TEST_F(CliPlatforms, AmpereOneHasBbml2NoabortAndRangeTlbis) {
    const json file = preset_file("ampereone");
    EXPECT_TRUE(file["features"]["bbml2_noabort"].get<bool>());
    EXPECT_TRUE(file["features"]["tlbirange"].get<bool>());
    EXPECT_FALSE(file["features"]["conflict_abort"].get<bool>()) << "BBML2_NOABORT hardware raises no conflict abort";

    // The flag reaches the kernel: folding and unfolding a 64K block (v6.17) costs a block
    // TLBI per convert without BBML2_NOABORT, and none with it.
    const json script = {
        {"regions", {{{"name", "heap"}, {"size", "2M"}}}},
        {"ops",
         {{{"op", "mmap"}, {"region", "heap"}, {"prot", "rw"}},
          {{"op", "access"}, {"region", "heap"}, {"stride", "4K"}, {"mix", "store"}},
          {{"op", "loop"},
           {"count", 10},
           {"ops",
            {{{"op", "mprotect"}, {"region", "heap"}, {"offset", "60K"}, {"size", "4K"}, {"prot", "r"}},
             {{"op", "mprotect"}, {"region", "heap"}, {"offset", "60K"}, {"size", "4K"}, {"prot", "rw"}}}}}}}};
    write_json(dir / "churn.json", {{"platform", "ampereone"},
                                    {"kernel", {{"version", "6.17"}, {"mthp", {"64K"}}}},
                                    {"workload", {{"script", script}}}});
    const auto range_tlbis = [&](const std::vector<std::string>& extra) {
        std::vector<std::string> args = {"run", "churn.json", "--json", "--out", "out"};
        args.insert(args.end(), extra.begin(), extra.end());
        const CliResult r = mmusim(args);
        EXPECT_EQ(r.exit_code, 0) << r.err;
        if (r.exit_code != 0) return std::int64_t{-1};
        const json stats = json::parse(r.out);
        EXPECT_EQ(stats.at("/kernel/contpte/unfolds"_json_pointer), 10);
        return stats.at("/kernel/tlbi/RVALE1IS"_json_pointer).get<std::int64_t>();
    };
    EXPECT_EQ(range_tlbis({}), 0);
    EXPECT_GT(range_tlbis({"--set", "platform.features.bbml2_noabort=false"}), 0);
}

// The command has no folder option; MMUSIM_PLATFORM_DIR (the folder platform_dir() reads)
// points it at a scratch folder.
TEST_F(CliPlatforms, ListsTheFolderPlatformDirNames) {
    write_json(dir / "presets/neoverse-n2.json", preset_file("neoverse-n2"));
    write_json(dir / "presets/ampereone.json", preset_file("ampereone"));
    write_text(dir / "presets/notes.txt", "not a preset\n");
    const ScopedEnv env("MMUSIM_PLATFORM_DIR", (dir / "presets").string());
    const CliResult r = mmusim({"platforms", "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const json doc = json::parse(r.out);
    EXPECT_EQ(doc["folder"], (dir / "presets").string());
    ASSERT_EQ(doc["platforms"].size(), 2u);
    EXPECT_EQ(doc["platforms"][0]["name"], "ampereone");
    EXPECT_EQ(doc["platforms"][1]["name"], "neoverse-n2");
}

TEST_F(CliPlatforms, ABrokenPresetIsReportedWithItsFile) {
    write_json(dir / "presets/neoverse-n1.json", preset_file("neoverse-n1"));
    json broken = preset_file("neoverse-n2");
    broken["tlb"]["l2"]["ways"] = 7;  // does not divide 1280
    write_json(dir / "presets/broken.json", broken);
    const ScopedEnv env("MMUSIM_PLATFORM_DIR", (dir / "presets").string());
    for (const bool json_flag : {false, true}) {
        std::vector<std::string> args = {"platforms"};
        if (json_flag) args.push_back("--json");
        EXPECT_TRUE(is_clean_error(mmusim(args), dir.path(), {"broken.json", "platform.tlb.l2.ways", "7", "1280"}));
    }

    // A schema error (an unknown key) is refused the same way.
    json unknown = preset_file("neoverse-n2");
    unknown["tlb"]["l2"]["wayz"] = 5;
    write_json(dir / "presets/broken.json", unknown);
    EXPECT_TRUE(is_clean_error(mmusim({"platforms"}), dir.path(), {"broken.json", "wayz"}));
}

}  // namespace
}  // namespace mmusim::cli_test
