// The statistics document (spec/mmu.md §5): stable keys, objects with sorted keys, integers as
// integers, derived ratios next to the counters.
#pragma once

#include <nlohmann/json.hpp>

#include "platforms/platform.h"
#include "sim/config.h"

namespace mmusim::sim {

inline constexpr const char* kStatsSchema = "mmusim-stats/1";

nlohmann::json collect_stats(const RunConfig& config, platforms::Platform& platform);

// Derived figures of a pmu object: miss and walk ratios, MPKI of refills and walks.
nlohmann::json derived_figures(const nlohmann::json& pmu);

}  // namespace mmusim::sim
