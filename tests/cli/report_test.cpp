// `mmusim report` as a user meets it: the kind of folder is found from its files, bad folders
// give one clear error and no page, the page refers to nothing outside itself, the same folder
// gives the same bytes, the tables hold the statistics' own values, and a real headless
// browser (Debian's chromium) draws every chart without an error.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/cli/cli_helpers.h"

namespace mmusim::cli_test {
namespace {

using nlohmann::json;

// The sweep columns, as `mmusim sweep` writes them, and how each comes from a statistics
// document (the fixtures below build sweep folders from real runs).
const std::vector<std::string> kSweepColumns = {
    "records",        "INST_RETIRED",  "L1D_TLB",   "L1D_TLB_REFILL", "L1I_TLB",           "L1I_TLB_REFILL",
    "L2D_TLB",        "L2D_TLB_REFILL", "DTLB_WALK", "ITLB_WALK",      "l1d_miss_ratio",    "walk_ratio",
    "DTLB_WALK_MPKI", "faults",         "blocks_mapped_cont", "folds", "unfolds",           "converts",
    "fold_attempts",  "scanner_folds",  "folio_fallbacks", "tlbi", "barriers",          "tlb_conflicts",
    "kernel_cycles",  "cycles"};

json object_total(const json& o) {
    std::uint64_t sum = 0;
    for (const auto& [k, v] : o.items()) sum += v.get<std::uint64_t>();
    return sum;
}

json sweep_metrics(const json& s) {
    json m = json::object();
    m["records"] = s["workload"]["records"];
    for (const char* e : {"INST_RETIRED", "L1D_TLB", "L1D_TLB_REFILL", "L1I_TLB", "L1I_TLB_REFILL", "L2D_TLB", "L2D_TLB_REFILL",
                          "DTLB_WALK", "ITLB_WALK"})
        m[e] = s["pmu"][e];
    m["l1d_miss_ratio"] = s["derived"]["l1d_miss_ratio"];
    m["walk_ratio"] = s["derived"]["walk_ratio"];
    m["DTLB_WALK_MPKI"] = s["derived"]["mpki"]["DTLB_WALK"];
    m["faults"] = s["kernel"]["faults"]["total"];
    for (const char* c : {"blocks_mapped_cont", "folds", "unfolds", "converts", "fold_attempts"}) m[c] = s["kernel"]["contpte"][c];
    m["scanner_folds"] = s["kernel"]["contpte"]["scanner"]["folds"];
    m["folio_fallbacks"] = object_total(s["kernel"]["folio_fallbacks"]);
    m["tlbi"] = object_total(s["kernel"]["tlbi"]);
    m["barriers"] = object_total(s["kernel"]["barriers"]);
    m["tlb_conflicts"] = s["mmu"]["tlb_conflicts"];
    m["kernel_cycles"] = s["kernel"]["cycles"];
    m["cycles"] = s["cycles"];
    return m;
}

// The charts each page should draw: run and compare pages have eleven (two TLB, two walk, two
// fault, folio, contpte, two per-operation, cycles); the sweep fixture has 26 columns and two
// dimensions with more than one value.
constexpr int kRunCharts = 11;
constexpr int kSweepFixtureCharts = 26 * 2;

class Report : public ::testing::Test {
protected:
    CliResult mmusim(const std::vector<std::string>& args) { return run_mmusim(args, dir.path()); }

    // A run folder: a small lackey trace (instruction fetches too, so MPKI have values).
    fs::path make_run(const std::string& name = "run") {
        write_text(dir / "trace.lackey", lackey_trace(3000));
        write_json(dir / "trace.json", trace_config("trace.lackey"));
        const CliResult r = mmusim({"run", "trace.json", "--out", name});
        EXPECT_EQ(r.exit_code, 0) << r.err;
        return dir / name;
    }

    fs::path make_compare(const std::string& name = "cmp") {
        write_text(dir / "trace.lackey", lackey_trace(3000));
        write_json(dir / "trace.json", trace_config("trace.lackey"));
        const CliResult r = mmusim({"compare", "trace.json", "--vary", "kernel.contpte=false,true", "--out", name});
        EXPECT_EQ(r.exit_code, 0) << r.err;
        return dir / name;
    }

    // A sweep folder in the format of `mmusim sweep`, from real runs: a single-valued "config"
    // dimension, folio policies (JSON arrays) and access counts (numbers), 2 x 2 points.
    fs::path make_sweep(const std::string& name = "sweep") {
        write_json(dir / "gen.json", generator_config(1500));
        const json mthp = json::array({json::array(), json::array({"64K"})});
        const json counts = json::array({1000, 2000});
        json points = json::array();
        for (const json& m : mthp)
            for (const json& c : counts) {
                char id[16];
                std::snprintf(id, sizeof id, "p%04zu", points.size());
                const std::string out = name + "/points/" + id;
                const CliResult r = mmusim({"run", "gen.json", "--set", "kernel.mthp=" + m.dump(), "--set",
                                            "workload.generator.count=" + c.dump(), "--out", out});
                EXPECT_EQ(r.exit_code, 0) << r.err;
                const json stats = json::parse(read_text(dir / out / "stats.json"));
                points.push_back(json{{"id", id},
                                      {"grid", {{"config", "gen.json"}, {"kernel.mthp", m}, {"workload.generator.count", c}}},
                                      {"metrics", sweep_metrics(stats)},
                                      {"stats", std::string("points/") + id + "/stats.json"}});
            }
        write_json(dir / name / "results.json",
                   json{{"schema", "mmusim-sweep-results/1"},
                        {"dimensions", json::array({json{{"key", "config"}, {"values", {"gen.json"}}},
                                                    json{{"key", "kernel.mthp"}, {"values", mthp}},
                                                    json{{"key", "workload.generator.count"}, {"values", counts}}})},
                        {"columns", kSweepColumns},
                        {"points", points}});
        return dir / name;
    }

    // Runs `mmusim report DIR` and returns the page; a failed command fails the test.
    std::string report(const fs::path& folder) {
        const CliResult r = mmusim({"report", folder.string()});
        EXPECT_EQ(r.exit_code, 0) << r.command << "\n" << r.err;
        EXPECT_EQ(r.out, "report: " + (folder / "report.html").string() + "\n");
        EXPECT_TRUE(r.err.empty()) << r.err;
        return read_text(folder / "report.html");
    }

    // The error contract for a folder that cannot be reported: no page, nor a temporary.
    ::testing::AssertionResult refused(const fs::path& folder, const std::vector<std::string>& needles) {
        const CliResult r = mmusim({"report", folder.string()});
        ::testing::AssertionResult ok = is_clean_error(r, dir / "no-output-here", needles);
        if (!ok) return ok;
        for (const char* name : {"report.html", "report.html.tmp"})
            if (fs::exists(folder / name)) return ::testing::AssertionFailure() << (folder / name) << " was written";
        return ::testing::AssertionSuccess();
    }

    ScratchDir dir;
};

// The document in the page's data block.
json page_data(const std::string& html) {
    const std::string open = "<script type=\"application/json\" id=\"report-data\">";
    const std::size_t start = html.find(open);
    if (start == std::string::npos) {
        ADD_FAILURE() << "the page has no data block";
        return json::object();
    }
    const std::size_t end = html.find("</script>", start);
    return json::parse(html.substr(start + open.size(), end - start - open.size()));
}

std::size_t count_of(const std::string& text, const std::string& needle) {
    std::size_t n = 0;
    for (std::size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
    return n;
}

// The cells of the table row with data-key `key` in the table `table_id`: each cell's data-v
// (for number cells) or text.
struct Cell {
    std::string v;     // data-v, or "" when the cell has none
    bool has_v = false;
    std::string text;  // the text shown, unescaped
};

std::string unescape(std::string text) {
    for (const auto& [entity, c] : std::vector<std::pair<std::string, std::string>>{
             {"&quot;", "\""}, {"&#39;", "'"}, {"&lt;", "<"}, {"&gt;", ">"}, {"&amp;", "&"}})
        for (std::size_t at; (at = text.find(entity)) != std::string::npos;) text.replace(at, entity.size(), c);
    return text;
}

std::vector<Cell> row_cells(const std::string& html, const std::string& table_id, const std::string& key) {
    std::vector<Cell> cells;
    const std::size_t table = html.find("id=\"" + table_id + "\"");
    if (table == std::string::npos) return cells;
    const std::size_t table_end = html.find("</table>", table);
    const std::size_t row = html.find("<tr data-key=\"" + key + "\">", table);
    if (row == std::string::npos || row > table_end) return cells;
    const std::string text = html.substr(row, html.find("</tr>", row) - row);
    static const std::regex cell_re("<td class=\"[^\"]*\"(?: data-v=\"([^\"]*)\")?>([^<]*)</td>");
    for (auto it = std::sregex_iterator(text.begin(), text.end(), cell_re); it != std::sregex_iterator(); ++it)
        cells.push_back({(*it)[1].str(), (*it)[1].matched, unescape((*it)[2].str())});
    return cells;
}

// The data-key values of the rows of a table.
std::vector<std::string> row_keys(const std::string& html, const std::string& table_id) {
    std::vector<std::string> keys;
    const std::size_t table = html.find("id=\"" + table_id + "\"");
    if (table == std::string::npos) return keys;
    const std::string text = html.substr(table, html.find("</table>", table) - table);
    static const std::regex key_re("<tr data-key=\"([^\"]*)\">");
    for (auto it = std::sregex_iterator(text.begin(), text.end(), key_re); it != std::sregex_iterator(); ++it)
        keys.push_back((*it)[1].str());
    return keys;
}

// ---------------------------------------------------------------------------------------------
// Folder kinds and errors

TEST_F(Report, FindsTheKindOfEachFolder) {
    const std::string run = report(make_run());
    EXPECT_NE(run.find("<h1>mmusim run: run</h1>"), std::string::npos);
    const std::string cmp = report(make_compare());
    EXPECT_NE(cmp.find("<h1>mmusim compare: kernel.contpte</h1>"), std::string::npos);
    EXPECT_NE(cmp.find("id=\"compare-table\""), std::string::npos);
    const std::string sweep = report(make_sweep());
    EXPECT_NE(sweep.find("<h1>mmusim sweep: sweep</h1>"), std::string::npos);
    EXPECT_NE(sweep.find("id=\"results-table\""), std::string::npos);
    for (const std::string* page : {&run, &cmp, &sweep}) {
        EXPECT_EQ(page->rfind("<!DOCTYPE html>\n", 0), 0u);
        EXPECT_EQ(page->substr(page->size() - 8), "</html>\n");
    }

    // A compare folder also holds each run's statistics below it, and -o writes elsewhere.
    fs::copy_file(dir / "cmp/run0/stats.json", dir / "cmp/stats.json");
    const CliResult r = mmusim({"report", "cmp", "-o", "pages/cmp.html"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, "report: pages/cmp.html\n");
    EXPECT_NE(read_text(dir / "pages/cmp.html").find("<h1>mmusim compare: kernel.contpte</h1>"), std::string::npos);
}

TEST_F(Report, RefusesFoldersItCannotReport) {
    EXPECT_TRUE(refused(dir / "absent", {"absent", "no such folder", "mmusim run, compare or sweep"}));
    write_text(dir / "file", "x");
    EXPECT_TRUE(refused(dir / "file", {"file", "not a folder"}));
    fs::create_directories(dir / "empty");
    EXPECT_TRUE(refused(dir / "empty", {"empty", "holds none of stats.json", "compare.json", "results.json"}));

    write_text(dir / "bad/stats.json", "{\"schema\": \"mmusim-stats/1\", \"pmu\": {");
    EXPECT_TRUE(refused(dir / "bad", {"bad/stats.json", "not valid JSON", "line 1", "mmusim-stats/1"}));
    write_text(dir / "blank/stats.json", "");
    EXPECT_TRUE(refused(dir / "blank", {"blank/stats.json", "not valid JSON"}));

    json stats = json::parse(read_text(make_run() / "stats.json"));
    stats["schema"] = "mmusim-stats/9";
    write_json(dir / "future/stats.json", stats);
    EXPECT_TRUE(refused(dir / "future", {"future/stats.json", "\"mmusim-stats/9\"", "not one this version reads",
                                         "\"mmusim-stats/1\""}));
    stats.erase("schema");
    write_json(dir / "unnamed/stats.json", stats);
    EXPECT_TRUE(refused(dir / "unnamed", {"unnamed/stats.json", "no \"schema\" key"}));
    write_json(dir / "list/stats.json", json::array({1, 2}));
    EXPECT_TRUE(refused(dir / "list", {"list/stats.json", "found array"}));

    json cmp = json::parse(read_text(make_compare() / "compare.json"));
    cmp["runs"][1]["schema"] = "other";
    write_json(dir / "cmp-bad-run/compare.json", cmp);
    EXPECT_TRUE(refused(dir / "cmp-bad-run", {"cmp-bad-run/compare.json", "runs[1]", "\"other\""}));
    cmp["runs"] = "none";
    write_json(dir / "cmp-no-runs/compare.json", cmp);
    EXPECT_TRUE(refused(dir / "cmp-no-runs", {"cmp-no-runs/compare.json", "\"runs\"", "not an array"}));

    json sweep = json::parse(read_text(make_sweep() / "results.json"));
    json wrong = sweep;
    wrong["schema"] = "mmusim-sweep-results/2";
    write_json(dir / "sw-schema/results.json", wrong);
    EXPECT_TRUE(refused(dir / "sw-schema", {"sw-schema/results.json", "\"mmusim-sweep-results/2\"", "mmusim-sweep-results/1"}));
    wrong = sweep;
    wrong["points"][2]["grid"].erase("kernel.mthp");
    write_json(dir / "sw-grid/results.json", wrong);
    EXPECT_TRUE(refused(dir / "sw-grid", {"sw-grid/results.json", "points[2].grid", "\"kernel.mthp\""}));
    wrong = sweep;
    wrong["points"][1]["metrics"]["cycles"] = "fast";
    write_json(dir / "sw-metric/results.json", wrong);
    EXPECT_TRUE(refused(dir / "sw-metric", {"sw-metric/results.json", "points[1].metrics.cycles", "\"fast\"", "not a number"}));
    write_text(dir / "sweep/points/p0003/stats.json", "{");
    EXPECT_TRUE(refused(dir / "sweep", {"sweep/points/p0003/stats.json", "not valid JSON"}));
}

// ---------------------------------------------------------------------------------------------
// What the pages hold

// Everything the page needs is inside it: no element, style or script refers to another file
// or to the network. (Addresses may appear only in the chart library's licence banner.)
TEST_F(Report, PagesReferToNothingOutsideThemselves) {
    const std::vector<std::string> pages = {report(make_run()), report(make_compare()), report(make_sweep())};
    for (const std::string& page : pages) {
        for (const char* needle : {"src=", "href=", "<link", "<iframe", "<img", "<object", "<embed", "url(", "@import",
                                   "sourceMappingURL", "@font-face", "fetch(", "XMLHttpRequest", "WebSocket", "<base"}) {
            EXPECT_EQ(page.find(needle), std::string::npos) << "the page contains " << needle;
        }
        std::size_t lines_with_address = 0;
        std::size_t start = 0;
        while (start < page.size()) {
            const std::size_t end = std::min(page.find('\n', start), page.size());
            const std::string line = page.substr(start, end - start);
            if (line.find("http://") != std::string::npos || line.find("https://") != std::string::npos ||
                line.find("//www.") != std::string::npos) {
                ++lines_with_address;
                EXPECT_EQ(line.rfind(" * ", 0), 0u) << "an address outside the licence banner: " << line.substr(0, 200);
            }
            start = end + 1;
        }
        EXPECT_LE(lines_with_address, 2u);
        EXPECT_EQ(count_of(page, "<script"), 4u) << "the error guard, the data, the chart library and the page's script";
        EXPECT_EQ(count_of(page, "<script>"), 3u) << "inline scripts only";
        EXPECT_NE(page.find("Chart.js v4.6.1"), std::string::npos);
    }
}

// The page carries the vendored chart library itself, less its source-map line: a build made
// before the file changed would fail here.
TEST_F(Report, PageCarriesTheVendoredChartLibrary) {
    std::string library = read_text(fs::path(MMUSIM_SOURCE_DIR) / "third_party/chart.js/chart.umd.js");
    ASSERT_GT(library.size(), 100000u);
    const std::size_t map = library.find("//# sourceMappingURL=");
    ASSERT_NE(map, std::string::npos);
    library.erase(map, library.find('\n', map) - map + 1);
    const std::string page = report(make_run());
    EXPECT_NE(page.find("<script>\n" + library + "</script>"), std::string::npos);
}

TEST_F(Report, SameFolderGivesTheSameBytes) {
    for (const fs::path& folder : {make_run(), make_compare(), make_sweep()}) {
        SCOPED_TRACE(folder.string());
        const std::string first = report(folder);
        const std::string again = report(folder);
        EXPECT_EQ(first, again);
        // The folder's place does not matter, only its content and name.
        fs::create_directories(dir / "elsewhere");
        fs::copy(folder, dir / "elsewhere" / folder.filename(), fs::copy_options::recursive);
        fs::remove(dir / "elsewhere" / folder.filename() / "report.html");
        EXPECT_EQ(report(dir / "elsewhere" / folder.filename()), first);
        EXPECT_EQ(page_data(first)["charts"].size(), count_of(first, "<canvas "));
    }
}

// Every table row whose key is a JSON pointer holds the statistics' value at that pointer,
// exactly (data-v) and as shown.
TEST_F(Report, RunTablesHoldTheStatistics) {
    const fs::path run = make_run();
    const json stats = json::parse(read_text(run / "stats.json"));
    const std::string page = report(run);
    std::size_t checked = 0;
    for (const char* table : {"table-tlb", "table-walks", "table-faults", "table-folios", "table-by-vma", "table-contpte",
                              "table-ops", "table-cycles"}) {
        const std::vector<std::string> keys = row_keys(page, table);
        EXPECT_FALSE(keys.empty()) << table;
        for (const std::string& key : keys) {
            const json::json_pointer pointer(key);
            if (!stats.contains(pointer) || !stats.at(pointer).is_primitive()) continue;
            const json& value = stats.at(pointer);
            const std::vector<Cell> cells = row_cells(page, table, key);
            ASSERT_EQ(cells.size(), 1u) << table << " " << key << ": one value column in a run page";
            EXPECT_EQ(cells[0].v, value.is_null() ? "" : value.dump()) << key;
            if (value.is_number_integer()) {
                EXPECT_EQ(cells[0].text, value.dump()) << key;
            }
            if (value.is_null()) {
                EXPECT_EQ(cells[0].text, "-") << key;
            }
            ++checked;
        }
    }
    EXPECT_GT(checked, 40u);
    // A few by name, with the fixed number format.
    EXPECT_EQ(row_cells(page, "table-walks", "/pmu/DTLB_WALK")[0].text, stats["pmu"]["DTLB_WALK"].dump());
    EXPECT_EQ(row_cells(page, "table-faults", "/kernel/faults/total")[0].text, stats["kernel"]["faults"]["total"].dump());
    // By kind of mapping: layout "auto" is all anon, and only the kinds that count have rows.
    EXPECT_EQ(row_cells(page, "table-by-vma", "/kernel/by_vma/anon/faults")[0].text, stats["kernel"]["faults"]["total"].dump());
    EXPECT_EQ(row_cells(page, "table-by-vma", "/mmu/by_vma/anon/DTLB_WALK")[0].text, stats["pmu"]["DTLB_WALK"].dump());
    EXPECT_TRUE(row_cells(page, "table-by-vma", "/kernel/by_vma/text/faults").empty());
    const double ratio = stats["derived"]["l1d_miss_ratio"].get<double>();
    ASSERT_GT(ratio, 0.001);
    ASSERT_LT(ratio, 1.0);
    char text[32];  // four significant digits, no exponent
    std::snprintf(text, sizeof text, ratio >= 0.1 ? "%.4f" : ratio >= 0.01 ? "%.5f" : "%.6f", ratio);
    EXPECT_EQ(row_cells(page, "table-tlb", "/derived/l1d_miss_ratio")[0].text, text);
    // Per-operation sums.
    std::uint64_t fault_barriers = 0;
    for (const auto& [kind, n] : stats["kernel"]["by_op"]["fault"]["barriers"].items()) fault_barriers += n.get<std::uint64_t>();
    EXPECT_EQ(row_cells(page, "table-ops", "/kernel/by_op/fault/barriers")[0].v, std::to_string(fault_barriers));
}

// The fold scanner's rows and the folio fallback rows appear where a run has them, and only
// there; the kernel line names the fold policy.
TEST_F(Report, ScannerAndFallbackRowsOnlyWhereTheyOccur) {
    // Stores only (a read would map the zero page instead of a folio) over 100 pages.
    json config = generator_config(100000);
    config["workload"]["generator"]["store_fraction"] = 1.0;
    write_json(dir / "gen.json", config);
    const CliResult r = mmusim({"run", "gen.json", "--set", "kernel.fold_policy=scanner", "--set", "kernel.fold_scanner.interval=200000",
                                "--set", "kernel.fragmentation=0.3", "--out", "scan"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const json stats = json::parse(read_text(dir / "scan/stats.json"));
    ASSERT_GT(stats["kernel"]["contpte"]["scanner"]["passes"].get<std::uint64_t>(), 0u);
    ASSERT_GT(stats["kernel"]["folio_fallbacks"]["64K"].get<std::uint64_t>(), 0u);
    const std::string page = report(dir / "scan");
    for (const char* field : {"passes", "blocks", "entries", "folds", "cycles"}) {
        const std::string key = std::string("/kernel/contpte/scanner/") + field;
        const std::vector<Cell> cells = row_cells(page, "table-contpte", key);
        ASSERT_EQ(cells.size(), 1u) << key;
        EXPECT_EQ(cells[0].v, stats["kernel"]["contpte"]["scanner"][field].dump()) << key;
    }
    const std::vector<Cell> fallbacks = row_cells(page, "table-folios", "/kernel/folio_fallbacks/64K");
    ASSERT_EQ(fallbacks.size(), 1u);
    EXPECT_EQ(fallbacks[0].v, stats["kernel"]["folio_fallbacks"]["64K"].dump());
    EXPECT_NE(page.find("contpte on (fold policy scanner)"), std::string::npos);

    // A linux-policy run without fragmentation has neither.
    const std::string plain = report(make_run());
    EXPECT_TRUE(row_cells(plain, "table-contpte", "/kernel/contpte/scanner/passes").empty());
    EXPECT_EQ(plain.find("/kernel/folio_fallbacks/"), std::string::npos);
    EXPECT_NE(plain.find("(fold policy linux)"), std::string::npos);
}

TEST_F(Report, CompareTablesHoldEachRunAndRatios) {
    const fs::path cmp = make_compare();
    const json doc = json::parse(read_text(cmp / "compare.json"));
    const std::string page = report(cmp);
    ASSERT_EQ(doc["runs"].size(), 2u);
    std::size_t checked = 0;
    for (const std::string& key : row_keys(page, "compare-table")) {
        const json::json_pointer pointer(key);
        const std::vector<Cell> cells = row_cells(page, "compare-table", key);
        ASSERT_EQ(cells.size(), 3u) << key << ": two runs and one ratio";
        for (std::size_t i = 0; i < 2; ++i) {
            const json& value = doc["runs"][i].at(pointer);
            EXPECT_EQ(cells[i].v, value.is_null() ? "" : value.dump()) << key;
        }
        const json& a = doc["runs"][0].at(pointer);
        const json& b = doc["runs"][1].at(pointer);
        if (a.is_number() && b.is_number() && a.get<double>() != 0.0) {
            char ratio[32];
            std::snprintf(ratio, sizeof ratio, "%.2fx", b.get<double>() / a.get<double>());
            EXPECT_EQ(cells[2].text, ratio) << key;
        } else {
            EXPECT_EQ(cells[2].text, "") << key;
        }
        ++checked;
    }
    EXPECT_GE(checked, 20u);
    EXPECT_NE(page.find("<th>false</th><th>true</th><th>ratio true</th>"), std::string::npos);
    // The charts have one series per run, named by its value.
    const json data = page_data(page);
    ASSERT_EQ(data["charts"].size(), static_cast<std::size_t>(kRunCharts));
    EXPECT_EQ(data["charts"][0]["datasets"].size(), 2u);
    EXPECT_EQ(data["charts"][0]["datasets"][1]["label"], "true");
}

TEST_F(Report, SweepTablesHoldEveryPointAndTheBest) {
    const fs::path sweep = make_sweep();
    const json results = json::parse(read_text(sweep / "results.json"));
    const std::string page = report(sweep);
    const std::vector<std::string> ids = row_keys(page, "results-table");
    ASSERT_EQ(ids.size(), 4u);
    for (std::size_t i = 0; i < 4; ++i) {
        const json& point = results["points"][i];
        EXPECT_EQ(ids[i], point["id"]);
        const std::vector<Cell> cells = row_cells(page, "results-table", ids[i]);
        ASSERT_EQ(cells.size(), 1 + 3 + kSweepColumns.size());
        EXPECT_EQ(cells[0].text, point["id"]);
        EXPECT_EQ(cells[1].text, "gen.json");
        EXPECT_EQ(cells[2].text, point["grid"]["kernel.mthp"].dump()) << "arrays shown as compact JSON";
        EXPECT_EQ(cells[3].v, point["grid"]["workload.generator.count"].dump());
        for (std::size_t c = 0; c < kSweepColumns.size(); ++c) {
            const json& v = point["metrics"][kSweepColumns[c]];
            EXPECT_EQ(cells[4 + c].v, v.is_null() ? "" : v.dump()) << kSweepColumns[c];
        }
    }
    EXPECT_NE(page.find("<td class=\"text\">[&quot;64K&quot;]</td>"), std::string::npos);
    for (const char* metric : {"DTLB_WALK", "kernel_cycles", "cycles"}) {
        std::size_t best = 0;
        for (std::size_t i = 1; i < 4; ++i)
            if (results["points"][i]["metrics"][metric].get<double>() < results["points"][best]["metrics"][metric].get<double>())
                best = i;
        const std::vector<Cell> cells = row_cells(page, "best-table", metric);
        ASSERT_EQ(cells.size(), 5u) << metric;
        EXPECT_EQ(cells[0].v, results["points"][best]["metrics"][metric].dump()) << metric;
        EXPECT_EQ(cells[1].text, results["points"][best]["id"]) << metric;
    }
    // The header tells the platform and kernel from the points' statistics.
    EXPECT_NE(page.find("neoverse-n1 (1 core) (from 4 of 4 points&#39; statistics)"), std::string::npos);
}

// Past twelve series a sweep chart shows their mean, and says so.
TEST_F(Report, SweepChartsAverageWhenTooManySeries) {
    json points = json::array();
    const json a = {1, 2, 4};
    const json b = {"b0", "b1", "b2", "b3", "b4", "b5", "b6"};
    const json c = {false, true};
    for (std::size_t i = 0; i < a.size(); ++i)
        for (std::size_t j = 0; j < b.size(); ++j)
            for (std::size_t k = 0; k < c.size(); ++k) {
                if (i == 2 && j == 6 && k == 1) continue;  // one point is missing
                json metrics = {{"m", static_cast<double>(100 * i + 10 * j + k)}, {"n", nullptr}};
                char id[16];
                std::snprintf(id, sizeof id, "p%zu", points.size());
                points.push_back(json{{"id", id},
                                      {"grid", {{"a", a[i]}, {"b", b[j]}, {"c", c[k]}}},
                                      {"metrics", metrics}});
            }
    write_json(dir / "big/results.json", json{{"schema", "mmusim-sweep-results/1"},
                                               {"dimensions", json::array({json{{"key", "a"}, {"values", a}},
                                                                           json{{"key", "b"}, {"values", b}},
                                                                           json{{"key", "c"}, {"values", c}}})},
                                               {"columns", {"m", "n"}},
                                               {"points", points}});
    const json charts = page_data(report(dir / "big"))["charts"];
    ASSERT_EQ(charts.size(), 6u) << "two columns by three dimensions";
    // m by a: the other dimensions make 7 x 2 = 14 series, so one series of their mean.
    const json& by_a = charts[0];
    EXPECT_EQ(by_a["title"], "m by a (mean over 14 combinations of b, c)");
    EXPECT_EQ(by_a["type"], "line") << "numbers along x";
    ASSERT_EQ(by_a["datasets"].size(), 1u);
    const json& mean = by_a["datasets"][0]["data"];
    EXPECT_DOUBLE_EQ(mean[0].get<double>(), (0 + 60) / 2.0 + 0.5);  // j from 0 to 6, k 0 and 1
    EXPECT_DOUBLE_EQ(mean[1].get<double>(), 100 + 30.5);
    EXPECT_DOUBLE_EQ(mean[2].get<double>(), (13 * 200 + 10 * 36 + 6) / 13.0);  // 13 points: j 0 to 5 twice, 6 once
    // m by b: 3 x 2 = 6 series, one per combination of a and c.
    const json& by_b = charts[1];
    EXPECT_EQ(by_b["title"], "m by b");
    EXPECT_EQ(by_b["type"], "bar");
    ASSERT_EQ(by_b["datasets"].size(), 6u);
    EXPECT_EQ(by_b["datasets"][0]["label"], "a=1, c=false");
    EXPECT_EQ(by_b["datasets"][5]["label"], "a=4, c=true");
    EXPECT_EQ(by_b["datasets"][5]["data"][6], nullptr) << "the missing point";
    EXPECT_EQ(by_b["datasets"][5]["data"][5], 251.0);
    EXPECT_EQ(charts[2]["labels"], json::array({"false", "true"}));
    // A column without values charts as gaps.
    EXPECT_EQ(charts[3]["title"], "n by a (mean over 14 combinations of b, c)");
    EXPECT_EQ(charts[3]["datasets"][0]["data"], json::array({nullptr, nullptr, nullptr}));
}

// ---------------------------------------------------------------------------------------------
// In a real browser

// The first executable named `chromium` on PATH, or "".
std::string find_chromium() {
    const char* path = std::getenv("PATH");
    std::string dirs = path != nullptr ? path : "/usr/bin:/bin";
    std::size_t start = 0;
    while (start <= dirs.size()) {
        const std::size_t end = std::min(dirs.find(':', start), dirs.size());
        const fs::path candidate = fs::path(dirs.substr(start, end - start)) / "chromium";
        if (access(candidate.c_str(), X_OK) == 0) return candidate.string();
        start = end + 1;
    }
    return "";
}

struct BrowserResult {
    int exit_code = -1;
    std::string dom;  // the page's DOM after its scripts ran (--dump-dom)
    std::string err;  // chromium's log
};

// Loads `page` in headless chromium (at most 60 s) and dumps its DOM once the page is idle.
// Host names resolve to nothing, so a page that reached for the network would fail to load
// something, which the browser logs as a console message of the page.
BrowserResult load_in_browser(const std::string& chromium, const fs::path& page, const fs::path& scratch) {
    BrowserResult result;
    const fs::path out_file = scratch / "browser.stdout";
    const fs::path err_file = scratch / "browser.stderr";
    std::vector<std::string> args = {"/usr/bin/timeout",
                                     "--kill-after=5",
                                     "60",
                                     chromium,
                                     "--headless",
                                     "--no-sandbox",
                                     "--disable-gpu",
                                     "--no-first-run",
                                     "--disable-extensions",
                                     "--host-resolver-rules=MAP * ~NOTFOUND",
                                     "--user-data-dir=" + (scratch / "browser-profile").string(),
                                     "--enable-logging=stderr",
                                     "--v=0",
                                     "--virtual-time-budget=10000",
                                     "--dump-dom",
                                     "file://" + fs::absolute(page).string()};
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const pid_t pid = fork();
    if (pid < 0) {
        ADD_FAILURE() << "fork failed";
        return result;
    }
    if (pid == 0) {
        const int in = open("/dev/null", O_RDONLY);
        const int out = open(out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        const int err = open(err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (in < 0 || out < 0 || err < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0) _exit(126);
        execv(argv[0], argv.data());
        _exit(127);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
    }
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    result.dom = read_text(out_file);
    result.err = read_text(err_file);
    return result;
}

// The value of attribute `name` of <body> in a dumped DOM, or "(none)".
std::string body_attribute(const std::string& dom, const std::string& name) {
    const std::size_t body = dom.find("<body");
    if (body == std::string::npos) return "(no body)";
    const std::string tag = dom.substr(body, dom.find('>', body) - body);
    const std::regex attr_re(" " + name + "=\"([^\"]*)\"");
    std::smatch m;
    return std::regex_search(tag, m, attr_re) ? m[1].str() : "(none)";
}

class ReportInBrowser : public Report {
protected:
    // Loads the page in chromium and checks that it drew `charts` charts, none of them blank,
    // with no error seen by the page and no console message (an error, an uncaught exception, a
// failed load) in the browser's log.
    void expect_drawn(const fs::path& page, int charts) {
        const std::string chromium = find_chromium();
        ASSERT_FALSE(chromium.empty()) << "chromium is not installed; the report tests load the pages in it: run "
                                          "`sh scripts/setup.sh test` to install what the tests need";
        const std::string html = read_text(page);
        ASSERT_EQ(count_of(html, "<canvas "), static_cast<std::size_t>(charts));
        const BrowserResult r = load_in_browser(chromium, page, dir.path());
        ASSERT_EQ(r.exit_code, 0) << "chromium failed:\n" << r.err;
        EXPECT_EQ(body_attribute(r.dom, "data-errors"), "0") << r.err;
        EXPECT_EQ(body_attribute(r.dom, "data-charts"), std::to_string(charts)) << r.err;
        EXPECT_EQ(body_attribute(r.dom, "data-blank"), "0");
        EXPECT_EQ(body_attribute(r.dom, "data-resources"), "0") << "the page asked for another file";
        std::size_t start = 0;
        while (start < r.err.size()) {
            const std::size_t end = std::min(r.err.find('\n', start), r.err.size());
            const std::string line = r.err.substr(start, end - start);
            EXPECT_EQ(line.find("CONSOLE"), std::string::npos) << "the page logged: " << line;
            EXPECT_EQ(line.find("Uncaught"), std::string::npos) << line;
            start = end + 1;
        }
    }
};

TEST_F(ReportInBrowser, RunPageDrawsEveryChart) {
    const fs::path run = make_run();
    report(run);
    expect_drawn(run / "report.html", kRunCharts);
}

TEST_F(ReportInBrowser, ComparePageDrawsEveryChart) {
    const fs::path cmp = make_compare();
    report(cmp);
    expect_drawn(cmp / "report.html", kRunCharts);
}

TEST_F(ReportInBrowser, SweepPageDrawsEveryChart) {
    const fs::path sweep = make_sweep();
    report(sweep);
    expect_drawn(sweep / "report.html", kSweepFixtureCharts);
}

// The checks themselves catch a page whose script fails (a broken data block is one error) and
// a page that reaches for the network (an image from an address).
TEST_F(ReportInBrowser, NoticesABrokenPage) {
    const fs::path run = make_run();
    std::string html = report(run);
    const std::string data = "id=\"report-data\">";
    html.insert(html.find(data) + data.size(), "not json");
    const std::string heading = "<h1>";
    html.insert(html.find(heading), "<img alt=\"\" src=\"http://example.invalid/x.png\">");
    write_text(dir / "broken.html", html);
    const std::string chromium = find_chromium();
    ASSERT_FALSE(chromium.empty()) << "chromium is not installed: run `sh scripts/setup.sh test`";
    const BrowserResult r = load_in_browser(chromium, dir / "broken.html", dir.path());
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(body_attribute(r.dom, "data-errors"), "1");
    EXPECT_EQ(body_attribute(r.dom, "data-resources"), "1");
    EXPECT_NE(r.err.find("CONSOLE"), std::string::npos) << "the error reaches the browser's log";
}

}  // namespace
}  // namespace mmusim::cli_test
