// The results of a sweep: results.json (schema mmusim-sweep-results/1) and results.csv, one
// row per point with its grid values and the main figures of its stats.json.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace mmusim::sim {

// One metric column: its name and where it is in a statistics document. A `sum` metric adds
// up the values of the object found there (e.g. every TLBI form).
struct SweepMetric {
    const char* name;
    const char* pointer;
    bool sum = false;
};

// The metric columns, in order.
const std::vector<SweepMetric>& sweep_metrics();

// The metric of a statistics document; null when its pointer is missing there.
nlohmann::json metric_value(const nlohmann::json& stats, const SweepMetric& metric);

// One point of a finished sweep.
struct SweepResultPoint {
    std::string id;
    nlohmann::json grid;  // {key: value}, "config" included when it is a dimension
    nlohmann::json stats;  // its statistics document
};

// The results document: {"schema", "dimensions": [{"key", "values"}], "columns", "points":
// [{"id", "grid", "metrics", "stats": "points/<id>/stats.json"}]}.
nlohmann::json sweep_results(const nlohmann::json& dimensions, const std::vector<SweepResultPoint>& points);

// results.csv from the results document: "point", the dimensions' keys, then the metrics.
std::string sweep_results_csv(const nlohmann::json& results);

// One CSV cell: quoted (quotes doubled) when it holds a comma, a quote or a line break.
std::string csv_field(const std::string& text);

// A value as a CSV cell: strings as they are, integers as integers, other numbers with six
// decimals, null empty, anything else as compact JSON.
std::string csv_value(const nlohmann::json& value);

}  // namespace mmusim::sim
