// `mmusim platforms [--json]`: every preset of the platforms folder with its main parameters.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace mmusim::sim {

// {"folder": ..., "platforms": [{"name", "file", "tlb": {"l1i", "l1d", "l2"}, "features",
// "memory"}, ...]}, sorted by name. Every preset is loaded and checked as a run would load it,
// so a broken one throws ConfigError naming its file.
nlohmann::json platforms_json();

// The same document as an aligned text table, one row per preset.
std::string platforms_table(const nlohmann::json& doc);

}  // namespace mmusim::sim
