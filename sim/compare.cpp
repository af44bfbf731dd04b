#include "sim/compare.h"

#include <algorithm>
#include <cstdio>
#include <iomanip>
#include <sstream>

#include "models/kernel/mm.h"
#include "sim/config_error.h"
#include "sim/output.h"
#include "sim/run.h"

namespace mmusim::sim {

using nlohmann::json;

std::vector<std::string> split_values(const std::string& text) {
    std::vector<std::string> out;
    std::string cur;
    int depth = 0;
    bool quoted = false;
    for (char ch : text) {
        if (ch == '"') quoted = !quoted;
        if (!quoted && (ch == '[' || ch == '{')) ++depth;
        if (!quoted && (ch == ']' || ch == '}')) --depth;
        if (ch == ',' && depth == 0 && !quoted) {
            out.push_back(cur);
            cur.clear();
        } else {
            cur += ch;
        }
    }
    out.push_back(cur);
    return out;
}

json run_compare(const std::string& config_path, const std::vector<Override>& overrides,
                 const std::vector<std::string>& varies, bool check_invariants) {
    if (varies.empty()) throw ConfigError("--vary: give KEY=V1,V2[,...], e.g. --vary kernel.contpte=false,true");
    // Each --vary is KEY=V1,V2,...; repeated ones are varied together, value i of each in run i.
    std::vector<std::string> keys;
    std::vector<std::vector<std::string>> columns;
    for (const std::string& vary : varies) {
        const std::size_t eq = vary.find('=');
        if (eq == std::string::npos || eq == 0 || eq + 1 == vary.size())
            throw ConfigError("--vary " + vary + ": expected KEY=V1,V2[,...], e.g. --vary kernel.contpte=false,true");
        const std::string key = vary.substr(0, eq);
        const std::vector<std::string> values = split_values(vary.substr(eq + 1));
        if (values.size() < 2) throw ConfigError("--vary " + vary + ": give at least two values to compare");
        if (std::find(keys.begin(), keys.end(), key) != keys.end())
            throw ConfigError("--vary " + vary + ": " + key + " is already varied by another --vary");
        if (!columns.empty() && values.size() != columns.front().size())
            throw ConfigError("--vary " + vary + ": " + std::to_string(values.size()) + " values, but --vary " + varies.front() +
                              " has " + std::to_string(columns.front().size()) +
                              "; repeated --vary options are varied together (value i of each in run i), so they need as many values");
        keys.push_back(key);
        columns.push_back(values);
    }
    const std::size_t n = columns.front().size();

    // Load every variant before running any, so that a bad value stops the command at once.
    std::vector<RunConfig> configs;
    std::vector<std::string> labels;
    for (std::size_t i = 0; i < n; ++i) {
        std::vector<Override> all = overrides;
        std::string label;
        for (std::size_t k = 0; k < keys.size(); ++k) {
            all.push_back(parse_override(keys[k] + "=" + columns[k][i], "--vary"));
            label += (k == 0 ? "" : " / ") + columns[k][i];
        }
        configs.push_back(load_config(config_path, all));
        configs.back().check_invariants = check_invariants;
        labels.push_back(label);
    }
    std::string key_label;
    for (std::size_t k = 0; k < keys.size(); ++k) key_label += (k == 0 ? "" : " / ") + keys[k];
    json runs = json::array();
    for (const RunConfig& rc : configs) runs.push_back(run_simulation(rc));
    return json{{"vary", key_label}, {"values", labels}, {"runs", runs}};
}

namespace {

struct Row {
    std::string label;
    json::json_pointer pointer;
    bool only_if_seen = false;  // shown only when some run counts one (rare events)
};

std::string cell(const json& v) {
    if (v.is_null()) return "-";
    if (v.is_number_integer()) return std::to_string(v.get<std::uint64_t>());
    std::ostringstream os;
    os << std::fixed << std::setprecision(4) << v.get<double>();
    return os.str();
}

std::string ratio_text(const json& v, const json& base) {
    if (v.is_null() || base.is_null() || base.get<double>() == 0.0) return "";
    std::ostringstream os;
    os << std::fixed << std::setprecision(2) << v.get<double>() / base.get<double>() << "x";
    return os.str();
}

}  // namespace

std::string compare_table(const json& result) {
    static const std::vector<Row> rows = {
        {"L1D_TLB", json::json_pointer("/pmu/L1D_TLB")},
        {"L1D_TLB_REFILL", json::json_pointer("/pmu/L1D_TLB_REFILL")},
        {"L1I_TLB", json::json_pointer("/pmu/L1I_TLB")},
        {"L1I_TLB_REFILL", json::json_pointer("/pmu/L1I_TLB_REFILL")},
        {"L2D_TLB", json::json_pointer("/pmu/L2D_TLB")},
        {"L2D_TLB_REFILL", json::json_pointer("/pmu/L2D_TLB_REFILL")},
        {"DTLB_WALK", json::json_pointer("/pmu/DTLB_WALK")},
        {"ITLB_WALK", json::json_pointer("/pmu/ITLB_WALK")},
        {"INST_RETIRED", json::json_pointer("/pmu/INST_RETIRED")},
        {"L1D miss ratio", json::json_pointer("/derived/l1d_miss_ratio")},
        {"walk ratio", json::json_pointer("/derived/walk_ratio")},
        {"L2D_TLB_REFILL MPKI", json::json_pointer("/derived/mpki/L2D_TLB_REFILL")},
        {"DTLB_WALK MPKI", json::json_pointer("/derived/mpki/DTLB_WALK")},
        {"faults", json::json_pointer("/kernel/faults/total")},
        {"blocks mapped cont", json::json_pointer("/kernel/contpte/blocks_mapped_cont")},
        {"folds", json::json_pointer("/kernel/contpte/folds")},
        {"unfolds", json::json_pointer("/kernel/contpte/unfolds")},
        {"tlb conflicts", json::json_pointer("/mmu/tlb_conflicts"), true},
        {"kernel cycles", json::json_pointer("/kernel/cycles")},
        {"cycles", json::json_pointer("/cycles")},
    };
    const json& runs = result["runs"];
    const json& values = result["values"];
    std::vector<std::vector<std::string>> table;
    std::vector<std::string> header = {result["vary"].get<std::string>()};
    for (const json& v : values) header.push_back(v.get<std::string>());
    for (std::size_t i = 1; i < values.size(); ++i) header.push_back("ratio " + values[i].get<std::string>());
    table.push_back(header);
    // Then the counters by kind of mapping, for the kinds and counters some run counts.
    std::vector<Row> all = rows;
    for (std::size_t c = 0; c < kernel::kVmaClassCount; ++c) {
        const char* kind = kernel::vma_class_name(static_cast<kernel::VmaClass>(c));
        for (const char* event : {"L1D_TLB_REFILL", "L1I_TLB_REFILL", "DTLB_WALK", "ITLB_WALK"})
            all.push_back({std::string("by_vma.") + kind + " " + event,
                           json::json_pointer("/mmu/by_vma") / kind / event, true});
        for (const char* count : {"faults", "pages", "cont_pages"})
            all.push_back({std::string("by_vma.") + kind + " " + count,
                           json::json_pointer("/kernel/by_vma") / kind / count, true});
    }
    for (const Row& row : all) {
        // Statistics without a counter (written before it existed) show it as none.
        const auto value = [&](const json& run) { return run.contains(row.pointer) ? run.at(row.pointer) : json(); };
        if (row.only_if_seen && std::none_of(runs.begin(), runs.end(), [&](const json& run) {
                const json v = value(run);
                return v.is_number() && v.get<std::uint64_t>() != 0;
            }))
            continue;
        std::vector<std::string> line = {row.label};
        for (const json& run : runs) line.push_back(cell(value(run)));
        for (std::size_t i = 1; i < runs.size(); ++i) line.push_back(ratio_text(value(runs[i]), value(runs[0])));
        table.push_back(line);
    }
    return text_table(table, true);
}

}  // namespace mmusim::sim
