// Wording shared by the error messages of the config and of workload scripts: how a JSON
// value is shown, and the nearest known name to suggest for a misspelt one.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace mmusim {

// "a boolean", "a string", "a list", "an object", "a number", "an integer" or "null".
std::string json_type_name(const nlohmann::json& v);
// The value as JSON text, cut to 60 characters.
std::string json_shown(const nlohmann::json& v);
// Levenshtein distance.
std::size_t edit_distance(const std::string& a, const std::string& b);
// The name of `names` closest to `key` within a third of its length (at least 2 edits), or
// "" when none is that close.
std::string nearest_name(const std::vector<std::string>& names, const std::string& key);

}  // namespace mmusim
