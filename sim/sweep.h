// `mmusim sweep`: runs every combination of --grid values (and of several configs), each point
// in its own process, resumably, and collects the main figures into results.csv and
// results.json.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

namespace mmusim::sim {

struct SweepOptions {
    std::vector<std::string> configs;  // config files; several form the dimension "config"
    std::vector<std::string> grids;    // "KEY=V1,V2,...", one dimension each, outermost first
    std::vector<std::string> sets;     // "KEY=VALUE", applied to every point
    int jobs = -1;                     // points run at once; -1: the number of online CPUs
    std::string out = "mmusim-sweep";
    bool json = false;                 // print results.json instead of the summary
    bool check = false;                // every point runs with --check
};

// Registers the `sweep` subcommand with its options.
CLI::App* add_sweep_command(CLI::App& app, SweepOptions& options);

// Runs the sweep and returns what goes to stdout. Bad options or configs throw ConfigError
// before anything is written; a failing point throws RunError naming it.
std::string run_sweep(const SweepOptions& options, const std::string& log_level);

// One dimension of the grid: "KEY=V1,V2,..." split at the commas outside brackets, braces and
// quotes, each value read as --set reads it. Throws ConfigError naming `option`.
struct GridDimension {
    std::string option;                // as given, for messages: "--grid KEY=V1,V2"
    std::string key;
    std::vector<std::string> texts;    // the values as typed
    nlohmann::json values;             // the values as JSON
};
GridDimension parse_grid(const std::string& text);

// FNV-1a 64 of `bytes`: the content hash of a config in sweep.json.
std::uint64_t fnv1a64(const std::string& bytes);

}  // namespace mmusim::sim
