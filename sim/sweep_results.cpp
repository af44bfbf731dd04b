#include "sim/sweep_results.h"

#include <cstdint>
#include <cstdio>

namespace mmusim::sim {

using nlohmann::json;

const std::vector<SweepMetric>& sweep_metrics() {
    static const std::vector<SweepMetric> metrics = {
        {"records", "/workload/records"},
        {"INST_RETIRED", "/pmu/INST_RETIRED"},
        {"L1D_TLB", "/pmu/L1D_TLB"},
        {"L1D_TLB_REFILL", "/pmu/L1D_TLB_REFILL"},
        {"L1I_TLB", "/pmu/L1I_TLB"},
        {"L1I_TLB_REFILL", "/pmu/L1I_TLB_REFILL"},
        {"L2D_TLB", "/pmu/L2D_TLB"},
        {"L2D_TLB_REFILL", "/pmu/L2D_TLB_REFILL"},
        {"DTLB_WALK", "/pmu/DTLB_WALK"},
        {"ITLB_WALK", "/pmu/ITLB_WALK"},
        {"l1d_miss_ratio", "/derived/l1d_miss_ratio"},
        {"walk_ratio", "/derived/walk_ratio"},
        {"DTLB_WALK_MPKI", "/derived/mpki/DTLB_WALK"},
        {"faults", "/kernel/faults/total"},
        {"blocks_mapped_cont", "/kernel/contpte/blocks_mapped_cont"},
        {"folds", "/kernel/contpte/folds"},
        {"unfolds", "/kernel/contpte/unfolds"},
        {"converts", "/kernel/contpte/converts"},
        {"fold_attempts", "/kernel/contpte/fold_attempts"},
        {"scanner_folds", "/kernel/contpte/scanner/folds"},
        {"folio_fallbacks", "/kernel/folio_fallbacks", true},
        {"tlbi", "/kernel/tlbi", true},
        {"barriers", "/kernel/barriers", true},
        {"tlb_conflicts", "/mmu/tlb_conflicts"},
        {"kernel_cycles", "/kernel/cycles"},
        {"cycles", "/cycles"},
    };
    return metrics;
}

json metric_value(const json& stats, const SweepMetric& metric) {
    const json::json_pointer pointer(metric.pointer);
    if (!stats.contains(pointer)) return nullptr;
    const json& v = stats.at(pointer);
    if (!metric.sum) return v;
    if (!v.is_object()) return nullptr;
    std::uint64_t total = 0;
    for (const auto& [name, count] : v.items()) {
        if (!count.is_number_unsigned()) return nullptr;
        total += count.get<std::uint64_t>();
    }
    return total;
}

json sweep_results(const json& dimensions, const std::vector<SweepResultPoint>& points) {
    json columns = json::array();
    for (const SweepMetric& m : sweep_metrics()) columns.push_back(m.name);
    json rows = json::array();
    for (const SweepResultPoint& p : points) {
        json metrics = json::object();
        for (const SweepMetric& m : sweep_metrics()) metrics[m.name] = metric_value(p.stats, m);
        rows.push_back({{"id", p.id}, {"grid", p.grid}, {"metrics", metrics}, {"stats", "points/" + p.id + "/stats.json"}});
    }
    return {{"schema", "mmusim-sweep-results/1"}, {"dimensions", dimensions}, {"columns", columns}, {"points", rows}};
}

std::string csv_field(const std::string& text) {
    if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
    std::string out = "\"";
    for (const char ch : text) {
        if (ch == '"') out += '"';
        out += ch;
    }
    return out + "\"";
}

std::string csv_value(const json& value) {
    if (value.is_null()) return "";
    if (value.is_string()) return csv_field(value.get<std::string>());
    if (value.is_number_unsigned()) return std::to_string(value.get<std::uint64_t>());
    if (value.is_number_integer()) return std::to_string(value.get<std::int64_t>());
    if (value.is_number_float()) {
        char text[64];
        std::snprintf(text, sizeof text, "%.6f", value.get<double>());
        return text;
    }
    return csv_field(value.dump());
}

std::string sweep_results_csv(const json& results) {
    // Cells are appended one by one (a literal + a temporary string trips GCC 12's -Wrestrict).
    std::string out = "point";
    const auto cell = [&out](const std::string& text) {
        out += ',';
        out += csv_field(text);
    };
    for (const json& d : results["dimensions"]) cell(d["key"].get<std::string>());
    for (const json& c : results["columns"]) cell(c.get<std::string>());
    out += '\n';
    for (const json& p : results["points"]) {
        out += csv_field(p["id"].get<std::string>());
        for (const json& d : results["dimensions"]) {
            // Grid values as given: strings as they are, other values as compact JSON.
            const json& v = p["grid"].at(d["key"].get<std::string>());
            cell(v.is_string() ? v.get<std::string>() : v.dump());
        }
        for (const json& c : results["columns"]) {
            out += ',';
            out += csv_value(p["metrics"].at(c.get<std::string>()));
        }
        out += '\n';
    }
    return out;
}

}  // namespace mmusim::sim
