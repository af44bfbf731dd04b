// kernel.by_vma and mmu.by_vma through the program: stable keys in stats.json, and rows of
// the compare table for the kinds some run counts.
#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/cli/cli_helpers.h"

namespace mmusim::cli_test {
namespace {

using nlohmann::json;

std::vector<std::string> keys(const json& o) {
    std::vector<std::string> k;
    for (const auto& [key, value] : o.items()) k.push_back(key);
    return k;
}

// An anonymous region and a shared one (shmem), both written.
json two_kinds_config() {
    return {{"platform", "neoverse-n1"},
            {"kernel", {{"version", "6.17"}, {"granule", "4K"}, {"mthp", {"64K"}}}},
            {"workload",
             {{"script",
               {{"regions", {{{"name", "heap"}, {"size", "512K"}, {"align", "64K"}},
                             {{"name", "buf"}, {"size", "128K"}, {"align", "64K"}}}},
                {"ops",
                 {{{"op", "mmap"}, {"region", "heap"}},
                  {{"op", "access"}, {"region", "heap"}, {"stride", "4K"}, {"mix", "store"}},
                  {{"op", "mmap"}, {"region", "buf"}, {"shared", true}},
                  {{"op", "access"}, {"region", "buf"}, {"stride", "4K"}, {"mix", "store"}}}}}}}},
            {"seed", 1}};
}

class CliByVma : public ::testing::Test {
protected:
    CliResult mmusim(const std::vector<std::string>& args) { return run_mmusim(args, dir.path()); }
    ScratchDir dir;
};

// Every kind of mapping appears, zeros included, with the same keys whatever the run did.
TEST_F(CliByVma, StatsKeysAreStable) {
    write_json(dir / "run.json", two_kinds_config());
    ASSERT_EQ(mmusim({"run", "run.json", "--out", "out"}).exit_code, 0);
    const json stats = json::parse(read_text(dir / "out/stats.json"));
    const std::vector<std::string> kinds = {"anon", "file", "heap", "shared", "special", "stack", "text"};
    ASSERT_EQ(keys(stats["kernel"]["by_vma"]), kinds);
    ASSERT_EQ(keys(stats["mmu"]["by_vma"]), kinds);
    for (const std::string& kind : kinds) {
        const json& k = stats["kernel"]["by_vma"][kind];
        EXPECT_EQ(keys(k), (std::vector<std::string>{"cont_pages", "faults", "folios", "pages"})) << kind;
        EXPECT_EQ(keys(k["folios"]), keys(stats["kernel"]["folios"])) << kind;
        EXPECT_EQ(keys(stats["mmu"]["by_vma"][kind]),
                  (std::vector<std::string>{"DTLB_WALK", "ITLB_WALK", "L1D_TLB_REFILL", "L1I_TLB_REFILL"}))
            << kind;
    }
    EXPECT_EQ(stats["kernel"]["by_vma"]["anon"]["pages"], 128);
    EXPECT_EQ(stats["kernel"]["by_vma"]["shared"]["pages"], 32);
    EXPECT_EQ(stats["kernel"]["by_vma"]["text"]["faults"], 0);
    EXPECT_EQ(keys(stats["cores"][0]["mmu"]["by_vma"]), kinds);
}

// compare shows by_vma rows for the kinds and counters some run counts, and only those.
TEST_F(CliByVma, CompareShowsTheKindsThatCount) {
    write_json(dir / "run.json", two_kinds_config());
    const CliResult r = mmusim({"compare", "run.json", "--vary", "kernel.contpte=false,true"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::istringstream lines(r.out);
    std::vector<std::string> rows;
    for (std::string line; std::getline(lines, line);) {
        const std::size_t second = line.find(' ', line.find(' ') + 1);
        if (line.rfind("by_vma.", 0) == 0) rows.push_back(line.substr(0, second));
    }
    const auto has = [&](const std::string& row) { return std::find(rows.begin(), rows.end(), row) != rows.end(); };
    EXPECT_TRUE(has("by_vma.anon DTLB_WALK")) << r.out;
    EXPECT_TRUE(has("by_vma.anon faults")) << r.out;
    EXPECT_TRUE(has("by_vma.anon cont_pages")) << r.out;
    EXPECT_TRUE(has("by_vma.shared L1D_TLB_REFILL")) << r.out;
    EXPECT_TRUE(has("by_vma.shared pages")) << r.out;
    EXPECT_FALSE(has("by_vma.anon ITLB_WALK")) << r.out;
    for (const std::string& row : rows) EXPECT_TRUE(row.rfind("by_vma.anon ", 0) == 0 || row.rfind("by_vma.shared ", 0) == 0) << row;
}

}  // namespace
}  // namespace mmusim::cli_test
