// Loading a run config: JSON file, platform preset, --set overrides, validation against the
// schema, defaults, and conversion into the parameter structs of the models.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "models/kernel/kernel_config.h"
#include "platforms/platform_config.h"
#include "workloads/generator.h"
#include "workloads/script.h"

namespace mmusim::sim {

struct WorkloadConfig {
    bool is_trace = false;
    std::string trace_path;   // resolved against the config file's folder
    // workload.layout "trace": the address space and system calls come from the trace.
    bool layout_trace = false;
    bool count_segv = false;  // workload.trace.on_segv "count"
    workloads::GeneratorParams generator;
    bool is_script = false;
    std::shared_ptr<const workloads::Script> script;  // parsed and checked once, at load
    std::uint64_t max_records = 0;  // 0 = all, per thread
    unsigned threads = 1;
    std::vector<unsigned> placement;  // core of each thread
};

struct RunConfig {
    std::string source;             // the config file
    nlohmann::json resolved;        // complete config, defaults filled in, platform inlined
    platforms::PlatformConfig platform;
    kernel::KernelConfig kernel;
    WorkloadConfig workload;
    std::uint64_t seed = 1;
    // Run the page-table invariant checker after every kernel operation (`--check`). Not part
    // of the config: it changes no figure, it only stops a run whose tables are wrong.
    bool check_invariants = false;
};

// One override: KEY=VALUE, VALUE parsed as JSON when it parses, else taken as a string.
struct Override {
    std::string key;
    nlohmann::json value;
    std::string text;              // as given, for messages
    std::string option = "--set";  // the command-line option it came from
    std::string where() const { return option + " " + text; }
};
Override parse_override(const std::string& text, const std::string& option = "--set");

RunConfig load_config(const std::string& path, const std::vector<Override>& overrides);

// Reads a JSON file; a syntax error names the file, line and column.
nlohmann::json read_json_file(const std::string& path);

// The folder holding the platform presets (MMUSIM_PLATFORM_DIR, else the source tree's).
std::string platform_dir();

// The names of the presets in platform_dir() (its *.json files without the extension), sorted.
std::vector<std::string> platform_preset_names();

// Reads the preset NAME of platform_dir() and checks it as a run would (schema, TLB geometry,
// core count). Returns the platform object with every default filled in; throws ConfigError
// naming the file.
nlohmann::json load_platform_preset(const std::string& name);

}  // namespace mmusim::sim
