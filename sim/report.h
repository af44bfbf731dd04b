// `mmusim report DIR`: one self-contained HTML page that shows what a run, compare or sweep
// folder holds, in tables and charts. Style, data, script and the chart library are all inside
// the page, which refers to nothing outside itself, so it opens without a network. The same
// folder gives the same bytes.
#pragma once

#include <stdexcept>
#include <string>

namespace mmusim::sim {

// The folder cannot be reported: it holds none of the files below, or one of them is not
// what its writer writes. The message names the file and what is wrong.
class ReportError : public std::runtime_error {
public:
    explicit ReportError(const std::string& message) : std::runtime_error(message) {}
};

enum class ReportKind {
    Run,      // DIR/stats.json, written by `mmusim run --out DIR`
    Compare,  // DIR/compare.json, written by `mmusim compare ... --out DIR`
    Sweep,    // DIR/results.json, written by `mmusim sweep`
};

// The kind of `dir`, from the files present, looked for in the order results.json,
// compare.json, stats.json. Throws ReportError if `dir` is not a folder or holds none of them.
ReportKind report_kind(const std::string& dir);

// The page for `dir`.
std::string report_html(const std::string& dir);

// Writes report_html(dir) to `out` (DIR/report.html when `out` is empty), atomically, and
// returns the path written.
std::string write_report(const std::string& dir, const std::string& out);

}  // namespace mmusim::sim
