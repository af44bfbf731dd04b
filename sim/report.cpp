#include "sim/report.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cctype>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <set>
#include <sstream>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "models/kernel/mm.h"
#include "sim/embedded.h"
#include "sim/output.h"

namespace mmusim::sim {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr const char* kStatsFile = "stats.json";
constexpr const char* kCompareFile = "compare.json";
constexpr const char* kSweepFile = "results.json";
constexpr const char* kStatsSchemaName = "mmusim-stats/1";
constexpr const char* kSweepSchema = "mmusim-sweep-results/1";
// A sweep chart shows one series per combination of the other dimensions' values up to this
// many; past it, their mean.
constexpr std::size_t kMaxSeries = 12;

// Installed first in the page, before the chart library: counts every error the page meets
// (uncaught exceptions, rejected promises, console.error) for report.js to record on <body>.
constexpr const char* kErrorGuard = R"(window.mmusimReportErrors = 0;
(function () {
    'use strict';
    function count() {
        window.mmusimReportErrors += 1;
        if (document.body && document.body.hasAttribute('data-errors'))
            document.body.setAttribute('data-errors', String(window.mmusimReportErrors));
    }
    window.onerror = function () { count(); return false; };
    window.addEventListener('unhandledrejection', count);
    var consoleError = console.error;
    console.error = function () { count(); return consoleError.apply(console, arguments); };
})();
)";

// ---------------------------------------------------------------------------------------------
// Text

std::string escape(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (char c : text) {
        switch (c) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '"': out += "&quot;"; break;
        case '\'': out += "&#39;"; break;
        default: out += c;
        }
    }
    return out;
}

std::string compact(const json& v) { return v.dump(-1, ' ', false, json::error_handler_t::replace); }

// A value as shown in a cell or a label: strings as they are, everything else as compact JSON.
std::string display(const json& v) { return v.is_string() ? v.get<std::string>() : compact(v); }

std::string printf_text(const char* format, double value, int precision = -1) {
    char text[64];
    if (precision < 0) std::snprintf(text, sizeof text, format, value);
    else std::snprintf(text, sizeof text, format, precision, value);
    return text;
}

// Numbers in tables: integers exactly; other numbers with at least four significant digits
// (one decimal from 100 up, three from 1 up, and below 1 as many as four digits need, up to
// twelve), never in exponent form. A fixed rule, so the same value always reads the same.
std::string format_number(const json& v) {
    if (v.is_null()) return "-";
    if (v.is_number_unsigned()) return std::to_string(v.get<std::uint64_t>());
    if (v.is_number_integer()) return std::to_string(v.get<std::int64_t>());
    if (!v.is_number_float()) return display(v);
    const double d = v.get<double>();
    const double a = std::fabs(d);
    if (d == 0.0) return "0";
    if (a >= 1e15) return printf_text("%.0f", d);
    if (a >= 100.0) return printf_text("%.1f", d);
    if (a >= 1.0) return printf_text("%.3f", d);
    int decimals = 3;
    for (double t = a; t < 1.0 && decimals < 12; t *= 10.0) ++decimals;
    return printf_text("%.*f", d, decimals);
}

std::string ratio_text(const json& v, const json& base) {
    if (!v.is_number() || !base.is_number() || base.get<double>() == 0.0) return "";
    return printf_text("%.2f", v.get<double>() / base.get<double>()) + "x";
}

// A table cell holding a number: the exact value in data-v (empty for none), for sorting and
// for anyone reading the page's source.
std::string number_cell(const json& v, const std::string& cls = "num") {
    return "<td class=\"" + cls + "\" data-v=\"" + (v.is_number() ? compact(v) : std::string()) + "\">" +
           escape(format_number(v)) + "</td>";
}

std::string text_cell(const std::string& text) { return "<td class=\"text\">" + escape(text) + "</td>"; }

// JSON inside <script type="application/json">: '<', '>' and '&' only occur inside strings
// there, where their \u escapes mean the same, so no "</script>" can end the block early.
std::string script_json(const json& doc) {
    const std::string text = compact(doc);
    std::string out;
    out.reserve(text.size());
    for (char c : text) {
        if (c == '<') out += "\\u003c";
        else if (c == '>') out += "\\u003e";
        else if (c == '&') out += "\\u0026";
        else out += c;
    }
    return out;
}

// A script's text made safe to sit inside <script>: without its source-map comment (a
// reference to a file the page does not have) and with no "</script" that would end it.
std::string inline_script(std::string_view source) {
    std::string text(source);
    const std::string map_mark = "//# sourceMappingURL=";
    for (std::size_t at; (at = text.find(map_mark)) != std::string::npos;) {
        const std::size_t end = text.find('\n', at);
        text.erase(at, end == std::string::npos ? std::string::npos : end - at + 1);
    }
    for (std::size_t at = 0; (at = text.find("</", at)) != std::string::npos; at += 3) {
        std::string next = text.substr(at + 2, 6);
        std::transform(next.begin(), next.end(), next.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        if (next == "script") text.replace(at, 2, "<\\/");
    }
    return text;
}

// Size names as the statistics write them ("4K", "64K", "2M", "1G") in bytes, for ordering.
std::uint64_t size_bytes(const std::string& name) {
    std::uint64_t n = 0;
    std::size_t i = 0;
    for (; i < name.size() && name[i] >= '0' && name[i] <= '9'; ++i) n = n * 10 + static_cast<std::uint64_t>(name[i] - '0');
    const std::string unit = name.substr(i);
    if (unit == "K") return n << 10;
    if (unit == "M") return n << 20;
    if (unit == "G") return n << 30;
    return n;
}

// ---------------------------------------------------------------------------------------------
// Reading

json read_json(const fs::path& file, const std::string& expected) {
    std::ifstream in(file, std::ios::binary);
    if (!in) throw ReportError(file.string() + ": cannot be read (" + std::strerror(errno) + "); expected " + expected);
    const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    try {
        return json::parse(text);
    } catch (const json::parse_error& e) {
        std::string what = e.what();
        const std::size_t bracket = what.find("] ");
        if (what.rfind("[json.exception", 0) == 0 && bracket != std::string::npos) what = what.substr(bracket + 2);
        throw ReportError(file.string() + ": not valid JSON (" + what + "); expected " + expected);
    }
}

// The value at `pointer`, or null when the document has none there.
const json& value_at(const json& doc, const json::json_pointer& pointer) {
    static const json none;
    try {
        return doc.contains(pointer) ? doc.at(pointer) : none;
    } catch (const json::exception&) {
        return none;
    }
}

const json& value_at(const json& doc, const std::string& pointer) { return value_at(doc, json::json_pointer(pointer)); }

// Checks that `doc` (found at `where`) is a statistics document.
void check_stats(const json& doc, const std::string& where) {
    const std::string expected = std::string("a statistics document of schema \"") + kStatsSchemaName +
                                 "\", as mmusim run --out DIR writes into DIR/stats.json";
    if (!doc.is_object()) throw ReportError(where + ": found " + std::string(doc.type_name()) + "; expected " + expected);
    if (!doc.contains("schema")) throw ReportError(where + ": no \"schema\" key; expected " + expected);
    if (doc["schema"] != kStatsSchemaName)
        throw ReportError(where + ": schema " + compact(doc["schema"]) + " is not one this version reads; expected " + expected);
    for (const char* key : {"config", "pmu", "derived", "mmu", "kernel", "workload"})
        if (!doc.contains(key) || !doc[key].is_object())
            throw ReportError(where + ": \"" + key + "\" is missing or not an object; expected " + expected);
    if (!doc.contains("cycles") || !doc["cycles"].is_number())
        throw ReportError(where + ": \"cycles\" is missing or not a number; expected " + expected);
}

// ---------------------------------------------------------------------------------------------
// The page

class Page {
public:
    std::ostringstream body;

    // A chart: its canvas goes into the body now, its description into the data block that
    // report.js reads.
    void chart(const std::string& title, const std::string& type, const json& labels, const json& datasets,
               const std::string& x_title, const std::string& y_title, bool stacked = false) {
        // Taller with more series, so that the legend below leaves the plot its room.
        const std::size_t series = datasets.size() > 1 || stacked ? datasets.size() : 0;
        body << "<div class=\"chart\" style=\"height:" << 280 + 17 * series << "px\"><canvas id=\"chart-" << m_charts.size()
             << "\" role=\"img\" aria-label=\"" << escape(title) << "\"></canvas></div>\n";
        m_charts.push_back(json{{"title", title},
                                {"type", type},
                                {"labels", labels},
                                {"datasets", datasets},
                                {"x", x_title},
                                {"y", y_title},
                                {"stacked", stacked}});
    }

    std::string html(const std::string& title) const {
        std::ostringstream out;
        out << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            << "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            << "<title>" << escape(title) << "</title>\n"
            << "<script>\n" << kErrorGuard << "</script>\n"
            << "<style>\n" << embedded::text(embedded::report_css, embedded::report_css_size) << "</style>\n"
            << "</head>\n<body>\n"
            << body.str()
            << "<script type=\"application/json\" id=\"report-data\">" << script_json(json{{"charts", m_charts}})
            << "</script>\n"
            << "<script>\n" << inline_script(embedded::text(embedded::chart_js, embedded::chart_js_size)) << "</script>\n"
            << "<script>\n" << inline_script(embedded::text(embedded::report_js, embedded::report_js_size)) << "</script>\n"
            << "</body>\n</html>\n";
        return out.str();
    }

private:
    json m_charts = json::array();
};

void facts(Page& page, const std::vector<std::pair<std::string, std::string>>& items) {
    page.body << "<dl class=\"facts\">\n";
    for (const auto& [term, text] : items)
        page.body << "<dt>" << escape(term) << "</dt><dd>" << escape(text) << "</dd>\n";
    page.body << "</dl>\n";
}

// The folder's own name, for the title (not its path, so that a copied folder reads the same).
std::string folder_name(const fs::path& dir) {
    std::error_code ec;
    fs::path full = fs::weakly_canonical(dir, ec);
    if (ec) full = dir.lexically_normal();
    std::string name = full.filename().string();
    if (name.empty()) name = full.parent_path().filename().string();
    return name.empty() ? dir.string() : name;
}

// ---------------------------------------------------------------------------------------------
// Run and compare pages: every table has one column per run (and, with several runs, each
// one's ratio to the first); every chart one series per run.

struct Runs {
    std::vector<const json*> docs;
    std::vector<std::string> labels;  // the column headings: the vary values, or "value"
    bool compare() const { return docs.size() > 1 || compare_page; }
    bool compare_page = false;
};

struct Row {
    std::string label;
    std::string key;                          // data-key of the row: a JSON pointer into the statistics
    std::function<json(const json&)> value;  // the row's value in one run
};

Row pointer_row(const std::string& label, const std::string& pointer) {
    return {label, pointer, [pointer](const json& doc) { return value_at(doc, pointer); }};
}

// The sum of the numbers in the object at `pointer` (0 when there is none).
json object_sum(const json& doc, const std::string& pointer) {
    const json& o = value_at(doc, pointer);
    std::uint64_t sum = 0;
    if (o.is_object())
        for (const auto& [k, v] : o.items())
            if (v.is_number_unsigned()) sum += v.get<std::uint64_t>();
    return sum;
}

// The keys of the objects at `pointer` over all runs, in the objects' (sorted) order.
std::vector<std::string> key_union(const Runs& runs, const std::string& pointer) {
    std::set<std::string> keys;
    for (const json* doc : runs.docs) {
        const json& o = value_at(*doc, pointer);
        if (o.is_object())
            for (const auto& [k, v] : o.items()) keys.insert(k);
    }
    return {keys.begin(), keys.end()};
}

bool seen_in_some_run(const Runs& runs, const Row& row) {
    return std::any_of(runs.docs.begin(), runs.docs.end(), [&](const json* doc) {
        const json v = row.value(*doc);
        return v.is_number() && v.get<double>() != 0.0;
    });
}

void stats_table(Page& page, const Runs& runs, const std::string& id, const std::vector<Row>& rows) {
    page.body << "<div class=\"scroll\"><table class=\"data\" id=\"" << id << "\">\n<thead><tr><th></th>";
    for (const std::string& label : runs.labels) page.body << "<th>" << escape(label) << "</th>";
    if (runs.compare())
        for (std::size_t i = 1; i < runs.labels.size(); ++i) page.body << "<th>ratio " << escape(runs.labels[i]) << "</th>";
    page.body << "</tr></thead>\n<tbody>\n";
    for (const Row& row : rows) {
        page.body << "<tr data-key=\"" << escape(row.key) << "\"><th>" << escape(row.label) << "</th>";
        std::vector<json> values;
        for (const json* doc : runs.docs) values.push_back(row.value(*doc));
        for (const json& v : values) page.body << number_cell(v);
        if (runs.compare())
            for (std::size_t i = 1; i < values.size(); ++i)
                page.body << "<td class=\"num ratio\">" << ratio_text(values[i], values[0]) << "</td>";
        page.body << "</tr>\n";
    }
    page.body << "</tbody></table></div>\n";
}

// A bar chart of `rows` (one bar group per row, one series per run).
void runs_chart(Page& page, const Runs& runs, const std::string& title, const std::string& y_title,
                const std::vector<Row>& rows) {
    json labels = json::array();
    for (const Row& row : rows) labels.push_back(row.label);
    json datasets = json::array();
    for (std::size_t r = 0; r < runs.docs.size(); ++r) {
        json data = json::array();
        for (const Row& row : rows) {
            const json v = row.value(*runs.docs[r]);
            data.push_back(v.is_number() ? v : json(nullptr));
        }
        datasets.push_back(json{{"label", runs.labels[r]}, {"data", data}});
    }
    page.chart(title, "bar", labels, datasets, "", y_title);
}

// Stacked bars of the kernel's per-operation counts under `what` ("tlbi" or "barriers"): one
// bar per operation (per operation and run on a compare page), one stack part per kind.
void by_op_chart(Page& page, const Runs& runs, const std::string& title, const std::string& what) {
    const std::vector<std::string> ops = key_union(runs, "/kernel/by_op");
    std::set<std::string> kinds_set;
    for (const json* doc : runs.docs)
        for (const std::string& op : ops) {
            const json& o = value_at(*doc, "/kernel/by_op/" + op + "/" + what);
            if (o.is_object())
                for (const auto& [k, v] : o.items()) kinds_set.insert(k);
        }
    json labels = json::array();
    for (const std::string& op : ops)
        for (std::size_t r = 0; r < runs.docs.size(); ++r)
            labels.push_back(runs.compare() ? op + " (" + runs.labels[r] + ")" : op);
    json datasets = json::array();
    for (const std::string& kind : kinds_set) {
        json data = json::array();
        for (const std::string& op : ops)
            for (const json* doc : runs.docs) {
                const json& v = value_at(*doc, json::json_pointer("/kernel/by_op") / op / what / kind);
                data.push_back(v.is_number() ? v : json(0));
            }
        datasets.push_back(json{{"label", kind}, {"data", data}});
    }
    if (datasets.empty()) {
        // Nothing of this kind in any operation: one all-zero series keeps the chart's axes.
        json data = json::array();
        for (std::size_t i = 0; i < labels.size(); ++i) data.push_back(0);
        datasets.push_back(json{{"label", "none"}, {"data", data}});
    }
    page.chart(title, "bar", labels, datasets, "kernel operation", what == "tlbi" ? "TLBIs" : "barriers", true);
}

std::string on_off(const json& v) { return v.is_boolean() ? (v.get<bool>() ? "on" : "off") : display(v); }

std::string kernel_text(const json& doc) {
    const json& k = value_at(doc, "/config/kernel");
    if (!k.is_object()) return "-";
    std::string s = display(value_at(k, "/version"));
    s += ", " + display(value_at(k, "/granule")) + " granule, contpte " + on_off(value_at(k, "/contpte"));
    if (value_at(k, "/fold_policy").is_string()) s += " (fold policy " + display(value_at(k, "/fold_policy")) + ")";
    s += ", mTHP " + compact(value_at(k, "/mthp")) + ", THP " + display(value_at(k, "/thp"));
    return s;
}

std::string platform_text(const json& doc) {
    const json& cores = value_at(doc, "/config/platform/cores");
    std::string s = display(value_at(doc, "/config/platform/name"));
    if (cores.is_number()) s += " (" + compact(cores) + (cores == 1 ? " core)" : " cores)");
    return s;
}

std::string workload_text(const json& doc) {
    const json& w = value_at(doc, "/config/workload");
    std::string s;
    if (w.contains("trace")) s = "trace " + display(value_at(w, "/trace/path")) + " (" + display(value_at(w, "/trace/format")) + ")";
    else if (w.contains("generator"))
        s = "generator " + display(value_at(w, "/generator/pattern")) + ", " + display(value_at(w, "/generator/count")) + " accesses";
    else if (w.contains("script")) s = "script";
    else s = "-";
    const json& threads = value_at(w, "/threads");
    if (threads.is_number() && threads != 1) s += ", " + compact(threads) + " threads";
    const json& max = value_at(w, "/max_records");
    if (max.is_number() && max != 0) s += ", first " + compact(max) + " records";
    return s;
}

// One fact over the runs: the common text, or each run's ("label: text; ...") if they differ.
std::string across(const Runs& runs, const std::function<std::string(const json&)>& text) {
    std::vector<std::string> texts;
    for (const json* doc : runs.docs) texts.push_back(text(*doc));
    if (std::all_of(texts.begin(), texts.end(), [&](const std::string& t) { return t == texts.front(); })) return texts.front();
    std::string s;
    for (std::size_t i = 0; i < texts.size(); ++i) s += (i == 0 ? "" : "; ") + runs.labels[i] + ": " + texts[i];
    return s;
}

void runs_header(Page& page, const Runs& runs, const std::string& folder, const std::string& file, const json* compare) {
    const json& first = *runs.docs.front();
    std::vector<std::pair<std::string, std::string>> items = {{"folder", folder + " (" + file + ")"}};
    if (compare != nullptr) {
        items.emplace_back("varied", (*compare)["vary"].get<std::string>());
        std::string values;
        for (std::size_t i = 0; i < runs.labels.size(); ++i) values += (i == 0 ? "" : ", ") + runs.labels[i];
        items.emplace_back("values", values);
    }
    const std::string description = across(runs, [](const json& doc) { return display(value_at(doc, "/config/description")); });
    if (!description.empty() && description != "null") items.emplace_back("description", description);
    items.emplace_back("platform", across(runs, platform_text));
    items.emplace_back("kernel", across(runs, kernel_text));
    items.emplace_back("workload", across(runs, workload_text));
    items.emplace_back("seed", across(runs, [](const json& doc) { return display(value_at(doc, "/config/seed")); }));
    items.emplace_back("records", across(runs, [](const json& doc) { return format_number(value_at(doc, "/workload/records")); }));
    items.emplace_back("instructions", across(runs, [](const json& doc) { return format_number(value_at(doc, "/pmu/INST_RETIRED")); }));
    items.emplace_back("cycles", across(runs, [](const json& doc) { return format_number(value_at(doc, "/cycles")); }));
    facts(page, items);
    const json& platform_description = value_at(first, "/config/platform/description");
    if (platform_description.is_string() && !platform_description.get<std::string>().empty())
        page.body << "<details><summary>platform " << escape(display(value_at(first, "/config/platform/name")))
                  << "</summary><p class=\"note\">" << escape(platform_description.get<std::string>()) << "</p></details>\n";
    page.body << "<details><summary>resolved config" << (runs.compare() ? " of the first run (" + escape(runs.labels[0]) + ")" : "")
              << "</summary><pre>" << escape(value_at(first, "/config").dump(2)) << "</pre></details>\n";
}

void runs_sections(Page& page, const Runs& runs) {
    // TLBs
    page.body << "<h2 id=\"tlb\">TLBs</h2>\n<p class=\"note\">Arm PMU events summed over the cores; miss ratio = "
                 "refills / lookups, MPKI = events per 1000 instructions retired.</p>\n";
    stats_table(page, runs, "table-tlb",
                {pointer_row("L1I_TLB", "/pmu/L1I_TLB"), pointer_row("L1I_TLB_REFILL", "/pmu/L1I_TLB_REFILL"),
                 pointer_row("L1I miss ratio", "/derived/l1i_miss_ratio"),
                 pointer_row("L1I_TLB_REFILL MPKI", "/derived/mpki/L1I_TLB_REFILL"), pointer_row("L1D_TLB", "/pmu/L1D_TLB"),
                 pointer_row("L1D_TLB_REFILL", "/pmu/L1D_TLB_REFILL"), pointer_row("L1D miss ratio", "/derived/l1d_miss_ratio"),
                 pointer_row("L1D_TLB_REFILL MPKI", "/derived/mpki/L1D_TLB_REFILL"), pointer_row("L2D_TLB", "/pmu/L2D_TLB"),
                 pointer_row("L2D_TLB_REFILL", "/pmu/L2D_TLB_REFILL"), pointer_row("L2 miss ratio", "/derived/l2_miss_ratio"),
                 pointer_row("L2D_TLB_REFILL MPKI", "/derived/mpki/L2D_TLB_REFILL"),
                 pointer_row("INST_RETIRED", "/pmu/INST_RETIRED")});
    page.body << "<div class=\"charts\">\n";
    runs_chart(page, runs, "Miss ratio per TLB level", "refills / lookups",
               {pointer_row("L1I", "/derived/l1i_miss_ratio"), pointer_row("L1D", "/derived/l1d_miss_ratio"),
                pointer_row("L2", "/derived/l2_miss_ratio")});
    runs_chart(page, runs, "Refill MPKI per TLB level", "refills per 1000 instructions",
               {pointer_row("L1I", "/derived/mpki/L1I_TLB_REFILL"), pointer_row("L1D", "/derived/mpki/L1D_TLB_REFILL"),
                pointer_row("L2", "/derived/mpki/L2D_TLB_REFILL")});
    page.body << "</div>\n";

    // Walks
    page.body << "<h2 id=\"walks\">Table walks</h2>\n<p class=\"note\">Walk ratio = DTLB_WALK / L1D_TLB.</p>\n";
    stats_table(page, runs, "table-walks",
                {pointer_row("DTLB_WALK", "/pmu/DTLB_WALK"), pointer_row("ITLB_WALK", "/pmu/ITLB_WALK"),
                 pointer_row("walk ratio", "/derived/walk_ratio"), pointer_row("DTLB_WALK MPKI", "/derived/mpki/DTLB_WALK"),
                 pointer_row("ITLB_WALK MPKI", "/derived/mpki/ITLB_WALK"),
                 pointer_row("descriptor reads", "/mmu/walk_descriptor_reads"), pointer_row("walk cycles", "/mmu/walk_cycles"),
                 pointer_row("walk cache lookups", "/mmu/walk_cache_lookups"),
                 pointer_row("walk cache hits", "/mmu/walk_cache_hits")});
    page.body << "<div class=\"charts\">\n";
    runs_chart(page, runs, "Table walks", "walks",
               {pointer_row("DTLB_WALK", "/pmu/DTLB_WALK"), pointer_row("ITLB_WALK", "/pmu/ITLB_WALK")});
    runs_chart(page, runs, "Walk MPKI", "walks per 1000 instructions",
               {pointer_row("DTLB_WALK", "/derived/mpki/DTLB_WALK"), pointer_row("ITLB_WALK", "/derived/mpki/ITLB_WALK")});
    page.body << "</div>\n";

    // Faults
    std::vector<Row> kinds = {pointer_row("translation", "/kernel/faults/translation"),
                              pointer_row("permission", "/kernel/faults/permission"),
                              pointer_row("access flag", "/kernel/faults/access_flag")};
    std::vector<Row> handlers;
    for (const std::string& h : key_union(runs, "/kernel/faults/by_handler"))
        handlers.push_back(pointer_row(h, (json::json_pointer("/kernel/faults/by_handler") / h).to_string()));
    std::vector<Row> fault_rows = {pointer_row("faults", "/kernel/faults/total")};
    fault_rows.insert(fault_rows.end(), kinds.begin(), kinds.end());
    for (const Row& h : handlers) fault_rows.push_back({"handler " + h.label, h.key, h.value});
    page.body << "<h2 id=\"faults\">Faults</h2>\n";
    stats_table(page, runs, "table-faults", fault_rows);
    page.body << "<div class=\"charts\">\n";
    runs_chart(page, runs, "Faults by kind", "faults", kinds);
    runs_chart(page, runs, "Faults by handler", "faults", handlers);
    page.body << "</div>\n";

    // Folios
    std::vector<std::string> sizes = key_union(runs, "/kernel/folios");
    std::stable_sort(sizes.begin(), sizes.end(), [](const std::string& a, const std::string& b) { return size_bytes(a) < size_bytes(b); });
    // The sizes some run allocated (the statistics list every size of the granule), and the
    // base page in any case.
    std::vector<Row> folio_rows;
    for (const std::string& s : sizes) {
        Row row = pointer_row(s, (json::json_pointer("/kernel/folios") / s).to_string());
        const auto get = row.value;
        row.value = [get](const json& doc) { const json v = get(doc); return v.is_null() ? json(0) : v; };
        if (folio_rows.empty() || seen_in_some_run(runs, row)) folio_rows.push_back(row);
    }
    // Large allocations that failed (kernel.fragmentation) and fell back to a smaller size.
    std::vector<Row> folio_table = folio_rows;
    for (const std::string& s : key_union(runs, "/kernel/folio_fallbacks")) {
        const Row row = pointer_row("fallbacks from " + s, (json::json_pointer("/kernel/folio_fallbacks") / s).to_string());
        if (seen_in_some_run(runs, row)) folio_table.push_back(row);
    }
    page.body << "<h2 id=\"folios\">Folios by size</h2>\n<p class=\"note\">Folios allocated, by size; then the "
                 "allocations of a size that failed and fell back to a smaller one (those that occur).</p>\n";
    stats_table(page, runs, "table-folios", folio_table);
    page.body << "<div class=\"charts\">\n";
    runs_chart(page, runs, "Folios by size", "folios", folio_rows);
    page.body << "</div>\n";

    // By kind of mapping (kernel.by_vma, mmu.by_vma), where the statistics have them: the
    // kinds and counters some run counts.
    std::vector<Row> by_vma_rows;
    for (std::size_t c = 0; c < kernel::kVmaClassCount; ++c) {
        const std::string kind = kernel::vma_class_name(static_cast<kernel::VmaClass>(c));
        std::vector<Row> rows;
        for (const char* count : {"faults", "pages", "cont_pages"})
            rows.push_back(pointer_row(kind + " " + count, "/kernel/by_vma/" + kind + "/" + count));
        for (const char* event : {"L1D_TLB_REFILL", "L1I_TLB_REFILL", "DTLB_WALK", "ITLB_WALK"})
            rows.push_back(pointer_row(kind + " " + event, "/mmu/by_vma/" + kind + "/" + event));
        for (const Row& row : rows)
            if (seen_in_some_run(runs, row)) by_vma_rows.push_back(row);
    }
    if (!by_vma_rows.empty()) {
        page.body << "<h2 id=\"by-vma\">By kind of mapping</h2>\n<p class=\"note\">Faults in VMAs of each kind, "
                     "pages mapped (and of them with PTE_CONT) at the end of the run, and the TLB refills and walks "
                     "of VAs in VMAs of each kind (kernel.by_vma, mmu.by_vma; the counters some run counts).</p>\n";
        stats_table(page, runs, "table-by-vma", by_vma_rows);
    }

    // contpte
    const std::vector<Row> contpte = {pointer_row("blocks mapped cont", "/kernel/contpte/blocks_mapped_cont"),
                                      pointer_row("folds", "/kernel/contpte/folds"),
                                      pointer_row("unfolds", "/kernel/contpte/unfolds"),
                                      pointer_row("converts", "/kernel/contpte/converts"),
                                      pointer_row("fold attempts", "/kernel/contpte/fold_attempts")};
    // The fold scanner's rows only where it ran (kernel.fold_policy "scanner").
    std::vector<Row> contpte_table = contpte;
    const Row passes = pointer_row("scanner passes", "/kernel/contpte/scanner/passes");
    if (seen_in_some_run(runs, passes))
        for (const char* field : {"passes", "blocks", "entries", "folds", "cycles"})
            contpte_table.push_back(pointer_row(std::string("scanner ") + field, std::string("/kernel/contpte/scanner/") + field));
    page.body << "<h2 id=\"contpte\">contpte</h2>\n";
    stats_table(page, runs, "table-contpte", contpte_table);
    page.body << "<div class=\"charts\">\n";
    runs_chart(page, runs, "contpte: blocks, folds, unfolds, converts", "count", contpte);
    page.body << "</div>\n";

    // Kernel operations
    std::vector<Row> op_rows;
    for (const std::string& op : key_union(runs, "/kernel/by_op")) {
        const std::string base = (json::json_pointer("/kernel/by_op") / op).to_string();
        op_rows.push_back(pointer_row(op + " calls", base + "/calls"));
        op_rows.push_back({op + " TLBIs", base + "/tlbi", [base](const json& doc) { return object_sum(doc, base + "/tlbi"); }});
        op_rows.push_back({op + " barriers", base + "/barriers", [base](const json& doc) { return object_sum(doc, base + "/barriers"); }});
        op_rows.push_back(pointer_row(op + " kernel cycles", base + "/cycles"));
    }
    for (const std::string& form : key_union(runs, "/kernel/tlbi")) {
        Row row = pointer_row("TLBI " + form, (json::json_pointer("/kernel/tlbi") / form).to_string());
        if (seen_in_some_run(runs, row)) op_rows.push_back(row);
    }
    op_rows.push_back(pointer_row("TLBIs broadcast", "/kernel/tlbi_scope/broadcast"));
    op_rows.push_back(pointer_row("TLBIs local", "/kernel/tlbi_scope/local"));
    for (const std::string& kind : key_union(runs, "/kernel/barriers")) {
        Row row = pointer_row(kind, (json::json_pointer("/kernel/barriers") / kind).to_string());
        if (seen_in_some_run(runs, row)) op_rows.push_back(row);
    }
    page.body << "<h2 id=\"ops\">TLBIs and barriers per kernel operation</h2>\n<p class=\"note\">Per operation "
                 "(kernel.by_op): calls, TLBI instructions and barriers issued, kernel cycles; then the totals by "
                 "TLBI form and barrier kind (those that occur).</p>\n";
    stats_table(page, runs, "table-ops", op_rows);
    page.body << "<div class=\"charts\">\n";
    by_op_chart(page, runs, "TLBIs per kernel operation, by form", "tlbi");
    by_op_chart(page, runs, "Barriers per kernel operation, by kind", "barriers");
    page.body << "</div>\n";

    // Cycles
    std::vector<Row> cycle_rows = {pointer_row("cycles", "/cycles"), pointer_row("kernel cycles", "/kernel/cycles")};
    std::size_t cores = 0;
    for (const json* doc : runs.docs) cores = std::max(cores, value_at(*doc, "/cores").size());
    if (cores > 1)
        for (std::size_t c = 0; c < cores; ++c) {
            const std::string base = "/cores/" + std::to_string(c);
            cycle_rows.push_back(pointer_row("core " + std::to_string(c) + " cycles", base + "/cycles"));
            cycle_rows.push_back(pointer_row("core " + std::to_string(c) + " kernel cycles", base + "/kernel_cycles"));
        }
    page.body << "<h2 id=\"cycles\">Cycles</h2>\n<p class=\"note\">cycles: simulated time, the maximum over the "
                 "cores; kernel cycles: the time spent in the kernel model.</p>\n";
    stats_table(page, runs, "table-cycles", cycle_rows);
    page.body << "<div class=\"charts\">\n";
    runs_chart(page, runs, "Cycles: total and kernel", "cycles",
               {pointer_row("cycles", "/cycles"), pointer_row("kernel cycles", "/kernel/cycles")});
    page.body << "</div>\n";
}

std::string run_page(const fs::path& dir) {
    const fs::path file = dir / kStatsFile;
    const json doc = read_json(file, std::string("a statistics document (") + kStatsSchemaName + ")");
    check_stats(doc, file.string());
    Runs runs;
    runs.docs = {&doc};
    runs.labels = {"value"};
    Page page;
    const std::string folder = folder_name(dir);
    page.body << "<h1>mmusim run: " << escape(folder) << "</h1>\n";
    runs_header(page, runs, folder, kStatsFile, nullptr);
    runs_sections(page, runs);
    return page.html("mmusim run: " + folder);
}

std::string compare_page(const fs::path& dir) {
    const fs::path file = dir / kCompareFile;
    const std::string expected = "a comparison as mmusim compare --out DIR writes it: {\"vary\": KEY, \"values\": [...], "
                                 "\"runs\": [statistics documents]}";
    const json doc = read_json(file, expected);
    const std::string where = file.string();
    if (!doc.is_object()) throw ReportError(where + ": found " + std::string(doc.type_name()) + "; expected " + expected);
    if (!doc.contains("vary") || !doc["vary"].is_string())
        throw ReportError(where + ": \"vary\" is missing or not a string; expected " + expected);
    if (!doc.contains("values") || !doc["values"].is_array() || doc["values"].empty())
        throw ReportError(where + ": \"values\" is missing, empty or not an array; expected " + expected);
    if (!doc.contains("runs") || !doc["runs"].is_array())
        throw ReportError(where + ": \"runs\" is missing or not an array; expected " + expected);
    if (doc["runs"].size() != doc["values"].size())
        throw ReportError(where + ": " + std::to_string(doc["runs"].size()) + " runs but " + std::to_string(doc["values"].size()) +
                          " values; expected one run per value");
    Runs runs;
    runs.compare_page = true;
    for (std::size_t i = 0; i < doc["runs"].size(); ++i) {
        check_stats(doc["runs"][i], where + ": runs[" + std::to_string(i) + "]");
        runs.docs.push_back(&doc["runs"][i]);
        runs.labels.push_back(display(doc["values"][i]));
    }
    Page page;
    const std::string folder = folder_name(dir);
    const std::string title = "mmusim compare: " + doc["vary"].get<std::string>();
    page.body << "<h1>" << escape(title) << "</h1>\n";
    runs_header(page, runs, folder, kCompareFile, &doc);

    // The comparison table of `mmusim compare`, with each column's ratio to the first.
    std::vector<Row> rows = {
        pointer_row("L1D_TLB", "/pmu/L1D_TLB"), pointer_row("L1D_TLB_REFILL", "/pmu/L1D_TLB_REFILL"),
        pointer_row("L1I_TLB", "/pmu/L1I_TLB"), pointer_row("L1I_TLB_REFILL", "/pmu/L1I_TLB_REFILL"),
        pointer_row("L2D_TLB", "/pmu/L2D_TLB"), pointer_row("L2D_TLB_REFILL", "/pmu/L2D_TLB_REFILL"),
        pointer_row("DTLB_WALK", "/pmu/DTLB_WALK"), pointer_row("ITLB_WALK", "/pmu/ITLB_WALK"),
        pointer_row("INST_RETIRED", "/pmu/INST_RETIRED"), pointer_row("L1D miss ratio", "/derived/l1d_miss_ratio"),
        pointer_row("walk ratio", "/derived/walk_ratio"), pointer_row("L2D_TLB_REFILL MPKI", "/derived/mpki/L2D_TLB_REFILL"),
        pointer_row("DTLB_WALK MPKI", "/derived/mpki/DTLB_WALK"), pointer_row("faults", "/kernel/faults/total"),
        pointer_row("blocks mapped cont", "/kernel/contpte/blocks_mapped_cont"), pointer_row("folds", "/kernel/contpte/folds"),
        pointer_row("unfolds", "/kernel/contpte/unfolds"), pointer_row("converts", "/kernel/contpte/converts")};
    const Row conflicts = pointer_row("tlb conflicts", "/mmu/tlb_conflicts");
    if (seen_in_some_run(runs, conflicts)) rows.push_back(conflicts);
    rows.push_back(pointer_row("kernel cycles", "/kernel/cycles"));
    rows.push_back(pointer_row("cycles", "/cycles"));
    page.body << "<h2 id=\"compare\">Comparison</h2>\n<p class=\"note\">The main counters side by side, and each "
                 "column's ratio to the first.</p>\n";
    stats_table(page, runs, "compare-table", rows);
    runs_sections(page, runs);
    return page.html(title);
}

// ---------------------------------------------------------------------------------------------
// Sweep page

struct Dimension {
    std::string key;
    std::vector<json> values;
};

struct Point {
    std::string id;
    std::vector<json> grid;  // one value per dimension, in dimension order
    json metrics;            // one number or null per column, in column order
};

struct Sweep {
    std::vector<Dimension> dims;
    std::vector<std::string> columns;
    std::vector<Point> points;
};

Sweep parse_sweep(const json& doc, const std::string& where) {
    const std::string expected = std::string("sweep results as mmusim sweep writes them: {\"schema\": \"") + kSweepSchema +
                                 "\", \"dimensions\": [...], \"columns\": [...], \"points\": [...]}";
    const auto bad = [&](const std::string& what) { return ReportError(where + ": " + what + "; expected " + expected); };
    if (!doc.is_object()) throw bad("found " + std::string(doc.type_name()));
    if (!doc.contains("schema")) throw bad("no \"schema\" key");
    if (doc["schema"] != kSweepSchema) throw bad("schema " + compact(doc["schema"]) + " is not one this version reads");
    for (const char* key : {"dimensions", "columns", "points"})
        if (!doc.contains(key) || !doc[key].is_array()) throw bad(std::string("\"") + key + "\" is missing or not an array");
    Sweep s;
    for (std::size_t i = 0; i < doc["dimensions"].size(); ++i) {
        const json& d = doc["dimensions"][i];
        const std::string at = "dimensions[" + std::to_string(i) + "]";
        if (!d.is_object() || !d.contains("key") || !d["key"].is_string() || !d.contains("values") || !d["values"].is_array() ||
            d["values"].empty())
            throw bad(at + " is not {\"key\": KEY, \"values\": [one or more values]}");
        s.dims.push_back({d["key"].get<std::string>(), d["values"].get<std::vector<json>>()});
    }
    for (std::size_t i = 0; i < doc["columns"].size(); ++i) {
        if (!doc["columns"][i].is_string()) throw bad("columns[" + std::to_string(i) + "] is not a string");
        s.columns.push_back(doc["columns"][i].get<std::string>());
    }
    for (std::size_t i = 0; i < doc["points"].size(); ++i) {
        const json& p = doc["points"][i];
        const std::string at = "points[" + std::to_string(i) + "]";
        if (!p.is_object() || !p.contains("id") || !p["id"].is_string())
            throw bad(at + " is not an object with an \"id\" string");
        if (!p.contains("grid") || !p["grid"].is_object()) throw bad(at + ".grid is missing or not an object");
        if (!p.contains("metrics") || !p["metrics"].is_object()) throw bad(at + ".metrics is missing or not an object");
        Point point{p["id"].get<std::string>(), {}, json::array()};
        for (const Dimension& d : s.dims) {
            if (!p["grid"].contains(d.key)) throw bad(at + ".grid has no value for the dimension \"" + d.key + "\"");
            point.grid.push_back(p["grid"][d.key]);
        }
        for (const std::string& c : s.columns) {
            const json& v = p["metrics"].contains(c) ? p["metrics"][c] : json(nullptr);
            if (!v.is_number() && !v.is_null()) throw bad(at + ".metrics." + c + " is " + compact(v) + ", not a number or null");
            point.metrics.push_back(v);
        }
        s.points.push_back(std::move(point));
    }
    return s;
}

std::string grid_key(const std::vector<json>& values) {
    std::string key;
    for (const json& v : values) key += compact(v) + '\x1f';
    return key;
}

std::string settings_text(const Sweep& s, const Point& p) {
    std::string text;
    for (std::size_t d = 0; d < s.dims.size(); ++d) text += (d == 0 ? "" : ", ") + s.dims[d].key + "=" + display(p.grid[d]);
    return text;
}

// The charts of one metric column against one dimension.
void sweep_chart(Page& page, const Sweep& s, const std::map<std::string, std::size_t>& index, std::size_t column,
                 std::size_t dim) {
    const Dimension& x = s.dims[dim];
    std::vector<std::size_t> others;  // the other dimensions that take more than one value
    std::size_t combinations = 1;
    for (std::size_t d = 0; d < s.dims.size(); ++d)
        if (d != dim && s.dims[d].values.size() > 1) {
            others.push_back(d);
            combinations *= s.dims[d].values.size();
        }
    const bool numeric = std::all_of(x.values.begin(), x.values.end(), [](const json& v) { return v.is_number(); });
    json labels = json::array();
    for (const json& v : x.values) labels.push_back(display(v));
    // The grid of a point: single-valued dimensions at their value, `dim` at value i, the others
    // at the combination numbered `combo` (mixed radix, the last dimension fastest).
    const auto lookup = [&](std::size_t i, std::size_t combo) -> json {
        std::vector<json> grid(s.dims.size());
        for (std::size_t d = 0; d < s.dims.size(); ++d) grid[d] = s.dims[d].values.front();
        grid[dim] = x.values[i];
        for (std::size_t k = others.size(); k-- > 0;) {
            const std::size_t n = s.dims[others[k]].values.size();
            grid[others[k]] = s.dims[others[k]].values[combo % n];
            combo /= n;
        }
        const auto it = index.find(grid_key(grid));
        return it == index.end() ? json(nullptr) : s.points[it->second].metrics[column];
    };
    json datasets = json::array();
    std::string title = s.columns[column] + " by " + x.key;
    if (combinations <= kMaxSeries) {
        for (std::size_t combo = 0; combo < combinations; ++combo) {
            json data = json::array();
            for (std::size_t i = 0; i < x.values.size(); ++i) data.push_back(lookup(i, combo));
            std::string label;
            std::size_t rest = combo;
            std::vector<std::string> parts(others.size());
            for (std::size_t k = others.size(); k-- > 0;) {
                const std::size_t n = s.dims[others[k]].values.size();
                parts[k] = s.dims[others[k]].key + "=" + display(s.dims[others[k]].values[rest % n]);
                rest /= n;
            }
            for (std::size_t k = 0; k < parts.size(); ++k) label += (k == 0 ? "" : ", ") + parts[k];
            datasets.push_back(json{{"label", label.empty() ? std::string("all points") : label}, {"data", data}});
        }
    } else {
        json data = json::array();
        for (std::size_t i = 0; i < x.values.size(); ++i) {
            double sum = 0.0;
            std::size_t n = 0;
            for (std::size_t combo = 0; combo < combinations; ++combo) {
                const json v = lookup(i, combo);
                if (v.is_number()) {
                    sum += v.get<double>();
                    ++n;
                }
            }
            data.push_back(n == 0 ? json(nullptr) : json(sum / static_cast<double>(n)));
        }
        std::string keys;
        for (std::size_t k = 0; k < others.size(); ++k) keys += (k == 0 ? "" : ", ") + s.dims[others[k]].key;
        title += " (mean over " + std::to_string(combinations) + " combinations of " + keys + ")";
        datasets.push_back(json{{"label", "mean"}, {"data", data}});
    }
    page.chart(title, numeric ? "line" : "bar", labels, datasets, x.key, s.columns[column]);
}

std::string sweep_page(const fs::path& dir) {
    const fs::path file = dir / kSweepFile;
    const json doc = read_json(file, std::string("sweep results (") + kSweepSchema + ")");
    const Sweep s = parse_sweep(doc, file.string());

    // The points' own statistics, where present, tell the platforms and kernels.
    std::set<std::string> platforms, kernels;
    std::size_t stats_read = 0;
    for (std::size_t i = 0; i < doc["points"].size(); ++i) {
        const json& p = doc["points"][i];
        if (!p.contains("stats") || !p["stats"].is_string()) continue;
        const fs::path stats_file = dir / p["stats"].get<std::string>();
        std::error_code ec;
        if (!fs::is_regular_file(stats_file, ec)) continue;
        const json stats = read_json(stats_file, std::string("a statistics document (") + kStatsSchemaName + ")");
        check_stats(stats, stats_file.string());
        platforms.insert(platform_text(stats));
        kernels.insert(display(value_at(stats, "/config/kernel/version")));
        ++stats_read;
    }

    Page page;
    const std::string folder = folder_name(dir);
    page.body << "<h1>mmusim sweep: " << escape(folder) << "</h1>\n";
    std::vector<std::pair<std::string, std::string>> items = {{"folder", folder + " (" + kSweepFile + ")"},
                                                              {"points", std::to_string(s.points.size())}};
    for (const Dimension& d : s.dims) {
        std::string values;
        for (std::size_t i = 0; i < d.values.size(); ++i) values += (i == 0 ? "" : ", ") + display(d.values[i]);
        items.emplace_back("dimension " + d.key, values);
    }
    const auto join = [](const std::set<std::string>& texts) {
        std::string out;
        for (const std::string& t : texts) out += (out.empty() ? "" : "; ") + t;
        return out;
    };
    if (stats_read > 0) {
        const std::string from = " (from " + std::to_string(stats_read) + " of " + std::to_string(s.points.size()) +
                                 " points' statistics)";
        items.emplace_back("platform", join(platforms) + from);
        items.emplace_back("kernel version", join(kernels) + from);
    }
    facts(page, items);

    // Best points: the lowest value of a few key metrics.
    page.body << "<h2 id=\"best\">Best point per metric</h2>\n<p class=\"note\">The lowest value of each metric, the "
                 "first point (in the results' order) that has it, and the highest value for scale.</p>\n"
              << "<div class=\"scroll\"><table class=\"data\" id=\"best-table\">\n<thead><tr><th>metric</th><th>lowest</th>"
                 "<th>point</th><th>settings</th><th>points with it</th><th>highest</th></tr></thead>\n<tbody>\n";
    for (const char* metric : {"DTLB_WALK", "kernel_cycles", "cycles"}) {
        const auto it = std::find(s.columns.begin(), s.columns.end(), metric);
        if (it == s.columns.end()) continue;
        const std::size_t c = static_cast<std::size_t>(it - s.columns.begin());
        const Point* best = nullptr;
        json low, high;
        for (const Point& p : s.points) {
            const json& v = p.metrics[c];
            if (!v.is_number()) continue;
            if (best == nullptr || v.get<double>() < low.get<double>()) {
                best = &p;
                low = v;
            }
            if (high.is_null() || v.get<double>() > high.get<double>()) high = v;
        }
        page.body << "<tr data-key=\"" << escape(metric) << "\"><th>" << escape(metric) << "</th>";
        if (best == nullptr) {
            page.body << number_cell(nullptr) << text_cell("-") << text_cell("no point has a value") << number_cell(0)
                      << number_cell(nullptr) << "</tr>\n";
            continue;
        }
        const std::size_t ties = static_cast<std::size_t>(std::count_if(
            s.points.begin(), s.points.end(), [&](const Point& p) { return p.metrics[c].is_number() && p.metrics[c] == low; }));
        page.body << number_cell(low) << text_cell(best->id) << text_cell(settings_text(s, *best)) << number_cell(ties)
                  << number_cell(high) << "</tr>\n";
    }
    page.body << "</tbody></table></div>\n";

    // All points.
    page.body << "<h2 id=\"results\">Results</h2>\n<p class=\"note\">Every point; click a heading to sort by it.</p>\n"
              << "<div class=\"scroll\"><table class=\"data sortable\" id=\"results-table\">\n<thead><tr><th>point</th>";
    for (const Dimension& d : s.dims) page.body << "<th>" << escape(d.key) << "</th>";
    for (const std::string& c : s.columns) page.body << "<th>" << escape(c) << "</th>";
    page.body << "</tr></thead>\n<tbody>\n";
    for (const Point& p : s.points) {
        page.body << "<tr data-key=\"" << escape(p.id) << "\">" << text_cell(p.id);
        for (const json& v : p.grid) page.body << (v.is_number() ? number_cell(v) : text_cell(display(v)));
        for (const json& v : p.metrics) page.body << number_cell(v);
        page.body << "</tr>\n";
    }
    page.body << "</tbody></table></div>\n";

    // One chart per metric and dimension with more than one value.
    std::map<std::string, std::size_t> index;
    for (std::size_t i = 0; i < s.points.size(); ++i) index.emplace(grid_key(s.points[i].grid), i);
    std::vector<std::size_t> charted;
    std::string single;
    for (std::size_t d = 0; d < s.dims.size(); ++d) {
        if (s.dims[d].values.size() > 1) charted.push_back(d);
        else single += (single.empty() ? "" : ", ") + s.dims[d].key + "=" + display(s.dims[d].values.front());
    }
    page.body << "<h2 id=\"charts\">Charts</h2>\n<p class=\"note\">For each metric, one chart per dimension that takes "
                 "more than one value: along x that dimension's values, one series per combination of the other "
                 "dimensions' values; where that would be more than "
              << kMaxSeries << " series, one series of their mean instead, as the chart's title says.";
    if (!single.empty()) page.body << " Dimensions with a single value: " << escape(single) << ".";
    if (charted.empty()) page.body << " No dimension takes more than one value, so there is nothing to chart.";
    page.body << "</p>\n";
    if (!charted.empty())
        for (std::size_t c = 0; c < s.columns.size(); ++c) {
            page.body << "<h3>" << escape(s.columns[c]) << "</h3>\n<div class=\"charts\">\n";
            for (const std::size_t d : charted) sweep_chart(page, s, index, c, d);
            page.body << "</div>\n";
        }
    return page.html("mmusim sweep: " + folder);
}

}  // namespace

ReportKind report_kind(const std::string& dir) {
    std::error_code ec;
    if (!fs::exists(dir, ec)) throw ReportError(dir + ": no such folder; expected the output folder of mmusim run, compare or sweep");
    if (!fs::is_directory(dir, ec))
        throw ReportError(dir + ": not a folder; expected the output folder of mmusim run, compare or sweep");
    if (fs::exists(fs::path(dir) / kSweepFile, ec)) return ReportKind::Sweep;
    if (fs::exists(fs::path(dir) / kCompareFile, ec)) return ReportKind::Compare;
    if (fs::exists(fs::path(dir) / kStatsFile, ec)) return ReportKind::Run;
    throw ReportError(dir + ": holds none of " + kStatsFile + " (a run folder: mmusim run --out DIR), " + kCompareFile +
                      " (a compare folder: mmusim compare ... --out DIR) or " + kSweepFile +
                      " (a sweep folder: mmusim sweep); give the output folder of one of those");
}

std::string report_html(const std::string& dir) {
    switch (report_kind(dir)) {
    case ReportKind::Run: return run_page(dir);
    case ReportKind::Compare: return compare_page(dir);
    case ReportKind::Sweep: return sweep_page(dir);
    }
    return {};
}

std::string write_report(const std::string& dir, const std::string& out) {
    const std::string path = out.empty() ? (fs::path(dir) / "report.html").string() : out;
    write_file_atomic(path, report_html(dir));
    return path;
}

}  // namespace mmusim::sim
