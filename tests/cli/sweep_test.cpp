// `mmusim sweep`, run as a user runs it: the grid and its order, the results files, the same
// bytes for any -j, resuming after a kill, and errors that name the option or the point.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "sim/sweep_results.h"
#include "tests/cli/cli_helpers.h"

namespace mmusim::cli_test {
namespace {

using nlohmann::json;

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

// The CSV cells of one line that has no quoted cell.
std::vector<std::string> cells_of(const std::string& line) {
    std::vector<std::string> cells;
    std::istringstream in(line);
    for (std::string cell; std::getline(in, cell, ',');) cells.push_back(cell);
    if (!line.empty() && line.back() == ',') cells.push_back("");
    return cells;
}

class Sweep : public ::testing::Test {
protected:
    CliResult mmusim(const std::vector<std::string>& args) { return run_mmusim(args, dir.path()); }

    // The files a finished sweep leaves in `out`, by path below it, with their contents.
    std::map<std::string, std::string> files_of(const std::string& out) {
        std::map<std::string, std::string> files;
        for (const auto& e : fs::recursive_directory_iterator(dir / out))
            if (e.is_regular_file()) files[fs::relative(e.path(), dir / out).string()] = read_text(e.path());
        return files;
    }

    ScratchDir dir;
};

// 2 x 2: the header, the rows in cartesian order (first --grid outermost), the grid values as
// given, and every figure equal to a plain `mmusim run --json` with the same --set values.
TEST_F(Sweep, TwoByTwoGridMatchesPlainRuns) {
    write_json(dir / "gen.json", generator_config(20000));
    const CliResult r = mmusim({"sweep", "gen.json", "--grid", "kernel.contpte=false,true", "--grid",
                                "kernel.mthp=[],[\"64K\"]", "--set", "kernel.granule=4K", "-j", "2", "--out", "sw"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, "4 points: 4 run, 0 reused; results: sw/results.csv, sw/results.json\n");
    EXPECT_EQ(r.err, "");

    const std::vector<std::string> lines = lines_of(read_text(dir / "sw/results.csv"));
    ASSERT_EQ(lines.size(), 5u);
    EXPECT_EQ(lines[0],
              "point,kernel.contpte,kernel.mthp,records,INST_RETIRED,L1D_TLB,L1D_TLB_REFILL,L1I_TLB,L1I_TLB_REFILL,"
              "L2D_TLB,L2D_TLB_REFILL,DTLB_WALK,ITLB_WALK,l1d_miss_ratio,walk_ratio,DTLB_WALK_MPKI,faults,"
              "blocks_mapped_cont,folds,unfolds,converts,fold_attempts,scanner_folds,folio_fallbacks,tlbi,barriers,tlb_conflicts,"
              "kernel_cycles,cycles");
    EXPECT_EQ(lines[1].rfind("p0000,false,[],", 0), 0u) << lines[1];
    EXPECT_EQ(lines[2].rfind("p0001,false,\"[\"\"64K\"\"]\",", 0), 0u) << lines[2];
    EXPECT_EQ(lines[3].rfind("p0002,true,[],", 0), 0u) << lines[3];
    EXPECT_EQ(lines[4].rfind("p0003,true,\"[\"\"64K\"\"]\",", 0), 0u) << lines[4];

    const json results = json::parse(read_text(dir / "sw/results.json"));
    EXPECT_EQ(results["schema"], "mmusim-sweep-results/1");
    EXPECT_EQ(results["dimensions"], json::parse(R"([{"key":"kernel.contpte","values":[false,true]},
                                                     {"key":"kernel.mthp","values":[[],["64K"]]}])"));
    ASSERT_EQ(results["points"].size(), 4u);
    const std::vector<std::pair<std::string, std::string>> grid = {
        {"false", "[]"}, {"false", "[\"64K\"]"}, {"true", "[]"}, {"true", "[\"64K\"]"}};
    for (std::size_t i = 0; i < grid.size(); ++i) {
        const json& point = results["points"][i];
        const std::string id = "p000" + std::to_string(i);
        EXPECT_EQ(point["id"], id);
        EXPECT_EQ(point["stats"], "points/" + id + "/stats.json");
        EXPECT_EQ(point["grid"]["kernel.contpte"], json::parse(grid[i].first));
        EXPECT_EQ(point["grid"]["kernel.mthp"], json::parse(grid[i].second));
        const CliResult run = mmusim(with_sets({"run", "gen.json", "--json", "--out", "run" + id},
                                               {"kernel.granule=4K", "kernel.contpte=" + grid[i].first,
                                                "kernel.mthp=" + grid[i].second}));
        ASSERT_EQ(run.exit_code, 0) << run.err;
        // The point's statistics are those of the plain run, to the byte.
        EXPECT_EQ(read_text(dir / "sw" / point["stats"].get<std::string>()), run.out) << id;
        const json stats = json::parse(run.out);
        for (const sim::SweepMetric& m : sim::sweep_metrics())
            EXPECT_EQ(point["metrics"][m.name], sim::metric_value(stats, m)) << id << " " << m.name;
        EXPECT_EQ(point["metrics"]["records"], 20000);
        EXPECT_EQ(point["metrics"]["L1D_TLB"], stats["pmu"]["L1D_TLB"]);
        // The CSV row holds the same figures.
        const std::vector<std::string> cells = cells_of(lines[i + 1]);
        ASSERT_EQ(cells.size(), 3 + sim::sweep_metrics().size()) << lines[i + 1];
        EXPECT_EQ(cells[3], "20000");
        EXPECT_EQ(cells[5], std::to_string(stats["pmu"]["L1D_TLB"].get<std::uint64_t>()));
        EXPECT_EQ(cells.back(), std::to_string(stats["cycles"].get<std::uint64_t>()));
    }
    // contpte changes the kernel's cycles: the grid values did reach the runs.
    EXPECT_NE(results["points"][1]["metrics"]["kernel_cycles"], results["points"][3]["metrics"]["kernel_cycles"]);

    const json manifest = json::parse(read_text(dir / "sw/sweep.json"));
    EXPECT_EQ(manifest["schema"], "mmusim-sweep/1");
    EXPECT_EQ(manifest["sets"], json::array({"kernel.granule=4K"}));
    EXPECT_EQ(manifest["configs"][0]["path"], "gen.json");
    EXPECT_EQ(manifest["configs"][0]["name"], "gen");
    EXPECT_EQ(manifest["points"][2], json::parse(R"({"id":"p0002","config":"gen","grid":{"kernel.contpte":true,"kernel.mthp":[]}})"));
}

// Three folio policies from one --grid: commas inside brackets and quotes do not split.
TEST_F(Sweep, BracketedValuesStayWhole) {
    write_json(dir / "gen.json", generator_config(5000));
    const CliResult r = mmusim({"sweep", "gen.json", "--grid", "kernel.mthp=[],[\"64K\"],[\"16K\",\"64K\"]", "--out", "sw", "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, read_text(dir / "sw/results.json"));  // --json prints results.json, nothing else
    const json results = json::parse(r.out);
    EXPECT_EQ(results["dimensions"][0]["values"], json::parse(R"([[],["64K"],["16K","64K"]])"));
    const std::vector<std::string> lines = lines_of(read_text(dir / "sw/results.csv"));
    ASSERT_EQ(lines.size(), 4u);
    EXPECT_EQ(lines[3].rfind("p0002,\"[\"\"16K\"\",\"\"64K\"\"]\",5000,", 0), 0u) << lines[3];
}

// Several configs are the outermost dimension "config", named by their file stems.
TEST_F(Sweep, ConfigsFormTheConfigDimension) {
    write_json(dir / "cfg/small.json", generator_config(3000));
    write_json(dir / "cfg/large.json", generator_config(7000));
    const CliResult r = mmusim({"sweep", "cfg/small.json", "cfg/large.json", "--grid", "kernel.contpte=false,true", "--out", "sw"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const std::vector<std::string> lines = lines_of(read_text(dir / "sw/results.csv"));
    ASSERT_EQ(lines.size(), 5u);
    EXPECT_EQ(lines[0].rfind("point,config,kernel.contpte,records,", 0), 0u) << lines[0];
    EXPECT_EQ(lines[1].rfind("p0000,small,false,3000,", 0), 0u) << lines[1];
    EXPECT_EQ(lines[2].rfind("p0001,small,true,3000,", 0), 0u) << lines[2];
    EXPECT_EQ(lines[3].rfind("p0002,large,false,7000,", 0), 0u) << lines[3];
    EXPECT_EQ(lines[4].rfind("p0003,large,true,7000,", 0), 0u) << lines[4];
    const json results = json::parse(read_text(dir / "sw/results.json"));
    EXPECT_EQ(results["dimensions"][0], json::parse(R"({"key":"config","values":["small","large"]})"));
    EXPECT_EQ(results["points"][2]["grid"], json::parse(R"({"config":"large","kernel.contpte":false})"));
    const json manifest = json::parse(read_text(dir / "sw/sweep.json"));
    EXPECT_EQ(manifest["configs"][1]["path"], "cfg/large.json");
    EXPECT_EQ(manifest["points"][3]["config"], "large");

    // Two configs of the same name cannot be told apart.
    write_json(dir / "other/small.json", generator_config(3000));
    EXPECT_TRUE(is_clean_error(mmusim({"sweep", "cfg/small.json", "other/small.json", "--out", "dup"}), dir / "dup",
                               {"other/small.json", "\"small\"", "cfg/small.json"}));
    EXPECT_FALSE(fs::exists(dir / "dup"));
}

// Every point is an independent deterministic run, so -j changes nothing in the files.
TEST_F(Sweep, ParallelismDoesNotChangeTheFiles) {
    write_json(dir / "gen.json", generator_config(20000));
    const std::vector<std::string> grid = {"--grid", "kernel.contpte=false,true", "--grid", "workload.generator.pattern=sequential,uniform,zipf"};
    std::vector<std::string> one = {"sweep", "gen.json", "-j", "1", "--out", "j1"};
    std::vector<std::string> two = {"sweep", "gen.json", "-j", "2", "--out", "j2"};
    one.insert(one.end(), grid.begin(), grid.end());
    two.insert(two.end(), grid.begin(), grid.end());
    ASSERT_EQ(mmusim(one).exit_code, 0);
    ASSERT_EQ(mmusim(two).exit_code, 0);
    const auto a = files_of("j1"), b = files_of("j2");
    EXPECT_EQ(a.size(), 3u + 6u);  // sweep.json, results.csv, results.json and six stats.json
    EXPECT_TRUE(a.count("points/p0005/stats.json"));
    EXPECT_EQ(a, b);
}

// A process of its own group, not waited for: a sweep to be killed half-way.
class Background {
public:
    Background(const std::vector<std::string>& args, const fs::path& cwd) {
        ExecArgs exec(args);
        const std::string where = cwd.string();
        m_pid = fork();
        if (m_pid == 0) {
            setpgid(0, 0);
            const int null = open("/dev/null", O_RDWR);
            if (null < 0 || chdir(where.c_str()) != 0) _exit(126);
            dup2(null, 0);
            dup2(null, 1);
            dup2(null, 2);
            execv(exec.program(), exec.argv());
            _exit(127);
        }
        if (m_pid > 0) setpgid(m_pid, m_pid);  // either side may get there first
    }
    ~Background() { kill_group(); }

    // SIGKILL to the whole group: the sweep and the points it is running.
    void kill_group() {
        if (m_pid <= 0) return;
        kill(-m_pid, SIGKILL);
        int status = 0;
        waitpid(m_pid, &status, 0);
        m_pid = -1;
    }
    bool started() const { return m_pid > 0; }

private:
    pid_t m_pid = -1;
};

bool wait_for_file(const fs::path& path, std::chrono::seconds limit) {
    const auto until = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < until) {
        if (fs::exists(path)) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return false;
}

// Killed half-way, the same command again reuses the finished points and gives the same
// results as a sweep that was never interrupted.
TEST_F(Sweep, ResumesAfterAKill) {
    write_json(dir / "gen.json", generator_config(3000000));
    const std::vector<std::string> args = {"sweep", "gen.json", "--grid", "kernel.contpte=false,true", "--grid",
                                           "workload.generator.store_fraction=0,0.5,1", "-j", "1"};
    std::vector<std::string> killed = args, whole = args;
    killed.insert(killed.end(), {"--out", "killed"});
    whole.insert(whole.end(), {"--out", "whole"});
    {
        Background sweep(killed, dir.path());
        ASSERT_TRUE(sweep.started());
        ASSERT_TRUE(wait_for_file(dir / "killed/points/p0000/stats.json", std::chrono::seconds(60)));
        sweep.kill_group();
    }
    EXPECT_FALSE(fs::exists(dir / "killed/results.csv"));
    EXPECT_FALSE(fs::exists(dir / "killed/points/p0005/stats.json")) << "the sweep ended before it was killed";

    const CliResult resumed = mmusim(killed);
    ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
    EXPECT_NE(resumed.out.find("6 points: "), std::string::npos) << resumed.out;
    EXPECT_EQ(resumed.out.find(" 0 reused"), std::string::npos) << resumed.out;
    EXPECT_EQ(output_files(dir / "killed").size(), 6u) << "only the six stats.json files, no temporaries";
    EXPECT_FALSE(fs::exists(dir / "killed/points/p0001/stderr.txt"));

    const CliResult fresh = mmusim(whole);
    ASSERT_EQ(fresh.exit_code, 0) << fresh.err;
    EXPECT_EQ(fresh.out, "6 points: 6 run, 0 reused; results: whole/results.csv, whole/results.json\n");
    EXPECT_EQ(read_text(dir / "killed/results.csv"), read_text(dir / "whole/results.csv"));
    EXPECT_EQ(read_text(dir / "killed/results.json"), read_text(dir / "whole/results.json"));
}

// A point whose stats.json is gone is the only one that runs again.
TEST_F(Sweep, RerunsOnlyTheMissingPoint) {
    write_json(dir / "gen.json", generator_config(20000));
    const std::vector<std::string> args = {"sweep", "gen.json", "--grid", "kernel.contpte=false,true", "--grid",
                                           "workload.generator.pattern=sequential,uniform", "--out", "sw"};
    ASSERT_EQ(mmusim(args).exit_code, 0);
    const std::string csv = read_text(dir / "sw/results.csv"), results = read_text(dir / "sw/results.json");
    const std::string stats = read_text(dir / "sw/points/p0002/stats.json");

    CliResult again = mmusim(args);
    ASSERT_EQ(again.exit_code, 0) << again.err;
    EXPECT_EQ(again.out, "4 points: 0 run, 4 reused; results: sw/results.csv, sw/results.json\n");

    fs::remove(dir / "sw/points/p0002/stats.json");
    const auto before = fs::last_write_time(dir / "sw/points/p0001/stats.json");
    again = mmusim(args);
    ASSERT_EQ(again.exit_code, 0) << again.err;
    EXPECT_EQ(again.out, "4 points: 1 run, 3 reused; results: sw/results.csv, sw/results.json\n");
    EXPECT_EQ(fs::last_write_time(dir / "sw/points/p0001/stats.json"), before);
    EXPECT_EQ(read_text(dir / "sw/points/p0002/stats.json"), stats);
    EXPECT_EQ(read_text(dir / "sw/results.csv"), csv);
    EXPECT_EQ(read_text(dir / "sw/results.json"), results);
}

// Mistakes in the grid stop the sweep before anything is written.
TEST_F(Sweep, UnknownGridKeyNamesTheKeyAndTheOption) {
    write_json(dir / "gen.json", generator_config(1000));
    EXPECT_TRUE(is_clean_error(mmusim({"sweep", "gen.json", "--grid", "kernel.contpte=false,true", "--grid", "kernel.contpt=false,true", "--out", "sw"}),
                               dir / "sw", {"--grid kernel.contpt=false,true", "unknown key \"kernel.contpt\"", "kernel.contpte"}));
    EXPECT_FALSE(fs::exists(dir / "sw"));
}

TEST_F(Sweep, BadValueNamesThePointAndTheValue) {
    write_json(dir / "gen.json", generator_config(1000));
    EXPECT_TRUE(is_clean_error(mmusim({"sweep", "gen.json", "--grid", "kernel.contpte=false,true", "--grid", "kernel.granule=4K,5K", "--out", "sw"}),
                               dir / "sw", {"sweep point p0001", "kernel.contpte=false, kernel.granule=5K", "--grid kernel.granule=5K", "kernel.granule"}));
    // A combination of good values can be bad too: ways must divide the entries.
    EXPECT_TRUE(is_clean_error(mmusim({"sweep", "gen.json", "--grid", "platform.tlb.l2.entries=1280,1024", "--grid", "platform.tlb.l2.ways=4,5", "--out", "sw"}),
                               dir / "sw", {"sweep point p0003", "platform.tlb.l2.entries=1024, platform.tlb.l2.ways=5", "does not divide"}));
    EXPECT_FALSE(fs::exists(dir / "sw"));
}

TEST_F(Sweep, MalformedGridOptions) {
    write_json(dir / "gen.json", generator_config(1000));
    const std::vector<std::pair<std::string, std::vector<std::string>>> cases = {
        {"kernel.contpte=false,,true", {"--grid kernel.contpte=false,,true", "value 2 of 3 is empty"}},
        {"kernel.contpte=", {"--grid kernel.contpte=", "no values"}},
        {"kernel.contpte", {"--grid kernel.contpte", "expected KEY=V1,V2"}},
    };
    for (const auto& [grid, needles] : cases)
        EXPECT_TRUE(is_clean_error(mmusim({"sweep", "gen.json", "--grid", grid, "--out", "sw"}), dir / "sw", needles));
    EXPECT_TRUE(is_clean_error(mmusim({"sweep", "gen.json", "--grid", "kernel.contpte=false", "--grid", "kernel.contpte=true", "--out", "sw"}),
                               dir / "sw", {"--grid kernel.contpte=true", "already swept by --grid kernel.contpte=false"}));
    EXPECT_TRUE(is_clean_error(mmusim({"sweep", "gen.json", "-j", "0", "--out", "sw"}), dir / "sw", {"-j 0"}));
    EXPECT_FALSE(fs::exists(dir / "sw"));
}

// A folder holding another sweep is refused, naming what differs.
TEST_F(Sweep, AnotherSweepInTheFolderIsRefused) {
    write_json(dir / "gen.json", generator_config(2000));
    ASSERT_EQ(mmusim({"sweep", "gen.json", "--grid", "kernel.contpte=false,true", "--out", "sw"}).exit_code, 0);
    const std::string manifest = read_text(dir / "sw/sweep.json");
    const std::string csv = read_text(dir / "sw/results.csv");

    CliResult r = mmusim({"sweep", "gen.json", "--grid", "kernel.contpte=true,false", "--out", "sw"});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_EQ(r.err.rfind("mmusim: error: --out sw: ", 0), 0u) << r.err;
    for (const char* needle : {"--grid options differ", "there: --grid kernel.contpte=false,true", "here: --grid kernel.contpte=true,false",
                                      "pick another --out", "remove sw"})
        EXPECT_NE(r.err.find(needle), std::string::npos) << needle << "\n" << r.err;

    r = mmusim({"sweep", "gen.json", "--grid", "kernel.contpte=false,true", "--set", "seed=2", "--out", "sw"});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("the --set options differ (there: none; here: --set seed=2)"), std::string::npos) << r.err;

    json changed = generator_config(2001);
    write_json(dir / "gen.json", changed);
    r = mmusim({"sweep", "gen.json", "--grid", "kernel.contpte=false,true", "--out", "sw"});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("gen.json changed since that sweep started"), std::string::npos) << r.err;
    EXPECT_EQ(r.out, "");
    EXPECT_EQ(read_text(dir / "sw/sweep.json"), manifest);
    EXPECT_EQ(read_text(dir / "sw/results.csv"), csv);
}

// A point that validates but fails when it runs (a trace cut short) stops the sweep with
// that point's own error; the points that finished stay and are reused later.
TEST_F(Sweep, FailingPointNamesThePoint) {
    write_text(dir / "good.lackey", lackey_trace(2000));
    write_gzip(dir / "whole.lackey.gz", lackey_trace(20000));
    const std::string whole = read_text(dir / "whole.lackey.gz");
    write_text(dir / "cut.lackey.gz", whole.substr(0, whole.size() / 2));
    write_json(dir / "trace.json", trace_config("good.lackey"));

    CliResult r = mmusim({"sweep", "trace.json", "--grid", "workload.trace.path=cut.lackey.gz,good.lackey", "-j", "1", "--out", "sw"});
    EXPECT_TRUE(is_clean_error(r, dir / "sw", {"sweep point p0000", "workload.trace.path=cut.lackey.gz", "failed", "cut.lackey.gz",
                                               "gzip", "truncated"}));
    EXPECT_FALSE(fs::exists(dir / "sw/results.csv"));

    // With the failing point last, the first one finishes and is kept.
    const std::vector<std::string> args = {"sweep", "trace.json", "--grid", "workload.trace.path=good.lackey,cut.lackey.gz", "-j", "1", "--out", "sw2"};
    r = mmusim(args);
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("sweep point p0001 (workload.trace.path=cut.lackey.gz) failed: "), std::string::npos) << r.err;
    EXPECT_TRUE(fs::exists(dir / "sw2/points/p0000/stats.json"));
    EXPECT_FALSE(fs::exists(dir / "sw2/results.csv"));
    EXPECT_FALSE(fs::exists(dir / "sw2/results.json"));

    // Once the trace is whole, the same command reuses p0000 and runs p0001.
    write_text(dir / "cut.lackey.gz", whole);
    r = mmusim(args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, "2 points: 1 run, 1 reused; results: sw2/results.csv, sw2/results.json\n");
}

}  // namespace
}  // namespace mmusim::cli_test
