// Writing results: a file appears complete or not at all (written aside, then renamed).
#pragma once

#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace mmusim::sim {

void write_file_atomic(const std::string& path, const std::string& content);
// The same for a file too large to build in memory first: `write` streams it.
void write_file_atomic(const std::string& path, const std::function<void(std::ostream&)>& write);
// Checks before a run that `path` (given with `option`) can be written: its folder exists and
// takes a file; throws ConfigError naming the option otherwise.
void check_output_file(const std::string& option, const std::string& path, const std::string& example);
// The JSON text of a statistics document: sorted keys, two-space indent, final newline.
std::string stats_text(const nlohmann::json& doc);
// An aligned text table: the first row is the heading, underlined with dashes; columns are two
// spaces apart. The first column is left-aligned; the others right-aligned with `numbers`
// (figures), else left-aligned with no spaces after the last cell.
std::string text_table(const std::vector<std::vector<std::string>>& rows, bool numbers);

}  // namespace mmusim::sim
