// `mmusim compare`: one run per value of a key, and a side-by-side table of the main counters
// with each column's ratio to the first.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sim/config.h"

namespace mmusim::sim {

// Splits "V1,V2,..." at top-level commas (commas inside [], {} or quotes stay).
std::vector<std::string> split_values(const std::string& text);

// Runs the config once per value of `varies` ("KEY=V1,V2", one per --vary); several are
// varied together, value i of each in run i, and must give as many values. Returns {"vary",
// "values", "runs"}: the keys and each run's values, joined by " / " when there are several.
// With `check_invariants` every run has the invariant checker on.
nlohmann::json run_compare(const std::string& config_path, const std::vector<Override>& overrides,
                           const std::vector<std::string>& varies, bool check_invariants = false);

// The side-by-side table for people.
std::string compare_table(const nlohmann::json& result);

}  // namespace mmusim::sim
