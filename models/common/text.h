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

// The "unknown key" message for `key` below `path` ("" for the top level): the key's full path,
// the nearest allowed key if one is close, and the allowed keys, with `what` the object is
// (if given) in brackets, e.g. `unknown key "a.sise"; did you mean "a.size"? Keys allowed in
// a (op mmap): size, prot.`
std::string unknown_key_message(const std::string& path, const std::string& key, const std::vector<std::string>& allowed,
                                const std::string& what = "");

}  // namespace mmusim
