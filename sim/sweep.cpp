#include "sim/sweep.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>

#include "sim/child_process.h"
#include "sim/compare.h"
#include "sim/config.h"
#include "sim/config_error.h"
#include "sim/output.h"
#include "sim/progress.h"
#include "sim/run.h"
#include "sim/schema.h"
#include "sim/sweep_results.h"

namespace mmusim::sim {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// More points than this is surely a mistake in the grid.
constexpr std::size_t kMaxPoints = 1000000;

const char* const kGridHelp = "expected KEY=V1,V2[,...], e.g. --grid kernel.contpte=false,true";

struct Config {
    std::string path;  // as given
    std::string name;  // its stem: the value in the dimension "config"
    std::string hash;
};

struct Point {
    std::string id;
    std::size_t config = 0;
    std::vector<std::size_t> value;  // index of its value in each grid dimension
};

struct Plan {
    std::vector<Config> configs;
    std::vector<GridDimension> grid;
    std::vector<Point> points;
    bool config_dimension = false;  // several configs
};

std::string read_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw ConfigError(path + ": cannot be read (" + std::string(std::strerror(errno)) + ")");
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::string hex64(std::uint64_t v) {
    char text[24];
    std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(v));
    return text;
}

// "config=a, kernel.contpte=true": the point's values as typed.
std::string point_label(const Plan& plan, const Point& p) {
    std::string label;
    if (plan.config_dimension) label = "config=" + plan.configs[p.config].name;
    for (std::size_t d = 0; d < plan.grid.size(); ++d)
        label += (label.empty() ? "" : ", ") + plan.grid[d].key + "=" + plan.grid[d].texts[p.value[d]];
    return label;
}

std::vector<Override> point_overrides(const std::vector<Override>& sets, const Plan& plan, const Point& p) {
    std::vector<Override> all = sets;
    for (std::size_t d = 0; d < plan.grid.size(); ++d)
        all.push_back(parse_override(plan.grid[d].key + "=" + plan.grid[d].texts[p.value[d]], "--grid"));
    return all;
}

Plan make_plan(const SweepOptions& options, const std::vector<Override>& sets) {
    Plan plan;
    std::map<std::string, std::string> stems;
    for (const std::string& path : options.configs) {
        const std::string name = fs::path(path).stem().string();
        if (auto it = stems.find(name); it != stems.end() && it->second == path)
            throw ConfigError(path + ": given twice; give each config once");
        if (auto it = stems.find(name); it != stems.end())
            throw ConfigError(path + ": has the same name (\"" + name + "\") as " + it->second +
                              "; configs of one sweep are told apart by their file names without the extension, so these must differ");
        stems[name] = path;
        const std::string bytes = read_bytes(path);
        read_json_file(path);  // a syntax error names the file, before any point does
        plan.configs.push_back(Config{path, name, hex64(fnv1a64(bytes))});
    }
    plan.config_dimension = plan.configs.size() > 1;
    for (const std::string& text : options.grids) {
        GridDimension dim = parse_grid(text);
        for (const GridDimension& other : plan.grid)
            if (other.key == dim.key)
                throw ConfigError(dim.option + ": " + dim.key + " is already swept by " + other.option +
                                  "; give each key once, with all its values");
        plan.grid.push_back(std::move(dim));
    }

    std::size_t total = plan.configs.size();
    for (const GridDimension& d : plan.grid) {
        if (total > kMaxPoints / d.texts.size())
            throw ConfigError("--grid: the grid has more than " + std::to_string(kMaxPoints) +
                              " points; sweep fewer values or split the sweep");
        total *= d.texts.size();
    }
    std::size_t width = 4;
    for (std::size_t n = total - 1; n >= 10000; n /= 10) ++width;

    // Cartesian order: the config outermost, then the --grid options as given, the last one
    // varying fastest.
    std::vector<std::size_t> at(plan.grid.size(), 0);
    for (std::size_t i = 0; i < total; ++i) {
        std::size_t rest = i;
        for (std::size_t d = plan.grid.size(); d-- > 0;) {
            at[d] = rest % plan.grid[d].texts.size();
            rest /= plan.grid[d].texts.size();
        }
        std::string id = std::to_string(i);
        id = "p" + std::string(width - std::min(width, id.size()), '0') + id;
        plan.points.push_back(Point{id, rest, at});
    }

    // Load every point before running any, so that a bad value stops the sweep at once.
    for (const Point& p : plan.points) {
        try {
            load_config(plan.configs[p.config].path, point_overrides(sets, plan, p));
        } catch (const ConfigError& e) {
            throw ConfigError("sweep point " + p.id + " (" + point_label(plan, p) + "): " + e.what());
        }
    }
    return plan;
}

json manifest(const Plan& plan, const SweepOptions& options) {
    json configs = json::array();
    for (const Config& c : plan.configs) configs.push_back({{"path", c.path}, {"name", c.name}, {"fnv1a64", c.hash}});
    json grid = json::array();
    for (const GridDimension& d : plan.grid) grid.push_back({{"key", d.key}, {"values", d.values}});
    json points = json::array();
    for (const Point& p : plan.points) {
        json values = json::object();
        for (std::size_t d = 0; d < plan.grid.size(); ++d) values[plan.grid[d].key] = plan.grid[d].values[p.value[d]];
        points.push_back({{"id", p.id}, {"config", plan.configs[p.config].name}, {"grid", values}});
    }
    return {{"schema", "mmusim-sweep/1"}, {"configs", configs}, {"sets", options.sets}, {"grid", grid}, {"points", points}};
}

std::string list_text(const json& items, const std::function<std::string(const json&)>& text) {
    std::string out;
    for (const json& item : items) out += (out.empty() ? "" : " ") + text(item);
    return out.empty() ? "none" : out;
}

// What differs between the manifest of an earlier sweep in the folder and this one's.
std::string manifest_difference(const std::string& old_text, const json& now) {
    json old;
    try {
        old = json::parse(old_text);
    } catch (const json::parse_error&) {
        return "it is not valid JSON";
    }
    if (!old.is_object() || old.value("schema", json()) != now["schema"] || !old.contains("configs") ||
        !old.contains("sets") || !old.contains("grid") || !old["configs"].is_array() || !old["sets"].is_array() ||
        !old["grid"].is_array())
        return "it is not a sweep manifest of this version (schema mmusim-sweep/1)";
    std::vector<std::string> diffs;
    const auto path_of = [](const json& c) { return c.value("path", std::string("?")); };
    if (list_text(old["configs"], path_of) != list_text(now["configs"], path_of)) {
        diffs.push_back("the configs differ (there: " + list_text(old["configs"], path_of) +
                        "; here: " + list_text(now["configs"], path_of) + ")");
    } else {
        for (std::size_t i = 0; i < now["configs"].size(); ++i)
            if (old["configs"][i] != now["configs"][i])
                diffs.push_back(path_of(now["configs"][i]) + " changed since that sweep started (its content hash differs)");
    }
    const auto set_of = [](const json& s) { return "--set " + (s.is_string() ? s.get<std::string>() : s.dump()); };
    if (old["sets"] != now["sets"])
        diffs.push_back("the --set options differ (there: " + list_text(old["sets"], set_of) + "; here: " +
                        list_text(now["sets"], set_of) + ")");
    const auto grid_of = [](const json& g) {
        std::string values;
        if (g.contains("values") && g["values"].is_array())
            for (const json& v : g["values"]) values += (values.empty() ? "" : ",") + (v.is_string() ? v.get<std::string>() : v.dump());
        return "--grid " + g.value("key", std::string("?")) + "=" + values;
    };
    if (old["grid"] != now["grid"])
        diffs.push_back("the --grid options differ (there: " + list_text(old["grid"], grid_of) + "; here: " +
                        list_text(now["grid"], grid_of) + ")");
    if (diffs.empty()) diffs.push_back("its points differ");
    std::string out;
    for (const std::string& d : diffs) out += (out.empty() ? "" : "; ") + d;
    return out;
}

// The error paragraph a failed point left on its stderr, without the "mmusim: error: ".
std::string child_error(const std::string& stderr_path, const ChildEnd& end) {
    std::ifstream in(stderr_path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string text = ss.str();
    const std::string prefix = "mmusim: error: ";
    const std::size_t at = text.rfind(prefix);
    std::string message = at == std::string::npos ? "" : text.substr(at + prefix.size());
    std::replace(message.begin(), message.end(), '\n', ' ');
    while (!message.empty() && message.back() == ' ') message.pop_back();
    if (message.empty()) message = "it " + end.text() + " without an error message (see " + stderr_path + ")";
    return message;
}

// Removes what a killed sweep left half-written: temporaries of the atomic writes, and the
// stderr files of points that did finish.
void remove_leftovers(const fs::path& dir) {
    std::error_code ec;
    std::vector<fs::path> stale;
    for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        const fs::path& p = it->path();
        if (p.extension() == ".tmp" ||
            (p.filename() == "stderr.txt" && fs::exists(p.parent_path() / "stats.json")))
            stale.push_back(p);
    }
    for (const fs::path& p : stale) fs::remove(p, ec);
}

unsigned job_count(const SweepOptions& options) {
    if (options.jobs == -1) {
        const long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        return cpus < 1 ? 1u : static_cast<unsigned>(cpus);
    }
    if (options.jobs < 1)
        throw ConfigError("-j " + std::to_string(options.jobs) + ": expected the number of points to run at once, 1 or more");
    return static_cast<unsigned>(options.jobs);
}

}  // namespace

std::uint64_t fnv1a64(const std::string& bytes) {
    std::uint64_t h = 14695981039346656037ULL;
    for (const char ch : bytes) {
        h ^= static_cast<unsigned char>(ch);
        h *= 1099511628211ULL;
    }
    return h;
}

GridDimension parse_grid(const std::string& text) {
    GridDimension dim;
    dim.option = "--grid " + text;
    const std::size_t eq = text.find('=');
    if (eq == std::string::npos || eq == 0) throw ConfigError(dim.option + ": " + kGridHelp);
    dim.key = text.substr(0, eq);
    const Field& field = field_at(dim.key, Origin{dim.option});
    const std::string rest = text.substr(eq + 1);
    if (rest.empty()) throw ConfigError(dim.option + ": no values after \"=\"; " + kGridHelp);
    dim.texts = split_values(rest);
    dim.values = json::array();
    for (std::size_t i = 0; i < dim.texts.size(); ++i) {
        if (dim.texts[i].empty())
            throw ConfigError(dim.option + ": value " + std::to_string(i + 1) + " of " + std::to_string(dim.texts.size()) +
                              " is empty; " + kGridHelp + " (write \"\" for an empty string)");
        const Override o = parse_override(dim.key + "=" + dim.texts[i], "--grid");
        json v = o.value;
        // As for --set: a key that takes a string gets the text as typed (6.10 stays "6.10").
        if (!v.is_string() && (field.kind == FieldKind::String || field.kind == FieldKind::Enum)) v = dim.texts[i];
        dim.values.push_back(v);
    }
    return dim;
}

CLI::App* add_sweep_command(CLI::App& app, SweepOptions& options) {
    CLI::App* sweep = app.add_subcommand("sweep", "run every combination of --grid values (and of the configs), one process per point");
    sweep->add_option("configs", options.configs, "config files (JSON); several form the grid dimension \"config\"")->required();
    sweep->add_option("--grid", options.grids, "KEY=V1,V2[,...]: one dimension of the grid; repeat it for more")
        ->allow_extra_args(false);
    sweep->add_option("--set", options.sets, "override one key in every point: KEY=VALUE")->allow_extra_args(false);
    sweep->add_option("-j,--jobs", options.jobs, "points run at once (default: the number of online CPUs)");
    sweep->add_option("--out", options.out, "output folder")->capture_default_str();
    sweep->add_flag("--json", options.json, "print results.json to stdout, and nothing else");
    return sweep;
}

std::string run_sweep(const SweepOptions& options, const std::string& log_level) {
    const unsigned jobs = job_count(options);
    std::vector<Override> sets;
    for (const std::string& s : options.sets) {
        sets.push_back(parse_override(s));
        field_at(sets.back().key, Origin{sets.back().where()});
    }
    const Plan plan = make_plan(options, sets);
    const std::string manifest_text = stats_text(manifest(plan, options));

    // The folder: a new sweep, or the same sweep again (resume).
    const fs::path dir(options.out);
    const std::string manifest_path = (dir / "sweep.json").string();
    std::error_code ec;
    if (fs::exists(manifest_path, ec)) {
        const std::string old = read_bytes(manifest_path);
        if (old != manifest_text)
            throw ConfigError("--out " + options.out + ": the folder holds another sweep (" + manifest_path + "): " +
                              manifest_difference(old, json::parse(manifest_text)) + "; pick another --out, or remove " +
                              options.out + " to start this sweep over");
        remove_leftovers(dir);
    } else if (fs::exists(dir / "points", ec)) {
        throw ConfigError("--out " + options.out + ": the folder holds a points/ folder but no sweep.json, so its points cannot be "
                          "told apart from this sweep's; pick another --out, or remove " + options.out);
    } else {
        write_file_atomic(manifest_path, manifest_text);
    }

    std::vector<std::size_t> todo;
    for (std::size_t i = 0; i < plan.points.size(); ++i)
        if (!fs::exists(dir / "points" / plan.points[i].id / "stats.json", ec)) todo.push_back(i);
    const std::size_t reused = plan.points.size() - todo.size();

    // Each point is `mmusim run` in a process of its own; they are independent and
    // deterministic, so the results do not depend on -j or on the order they finish in.
    const std::string program = self_executable();
    Progress progress(Progress::wanted(options.json));
    std::map<std::size_t, std::string> failures;  // point -> message, reported in point order
    std::size_t ran = 0;
    {
        Children children;
        std::map<pid_t, std::size_t> running;
        std::size_t next = 0;
        for (;;) {
            while (failures.empty() && running.size() < jobs && next < todo.size()) {
                const Point& p = plan.points[todo[next++]];
                const fs::path folder = dir / "points" / p.id;
                fs::create_directories(folder, ec);
                std::vector<std::string> args = {program, "--log-level", log_level, "run", plan.configs[p.config].path};
                for (const std::string& s : options.sets) args.insert(args.end(), {"--set", s});
                for (std::size_t d = 0; d < plan.grid.size(); ++d)
                    args.insert(args.end(), {"--set", plan.grid[d].key + "=" + plan.grid[d].texts[p.value[d]]});
                args.insert(args.end(), {"--out", folder.string()});
                if (options.check) args.push_back("--check");
                try {
                    running[children.spawn(program, args, (folder / "stderr.txt").string())] = todo[next - 1];
                } catch (const RunError& e) {
                    failures[todo[next - 1]] = e.what();
                }
            }
            progress.points(reused + ran, plan.points.size(), ran, running.size());
            if (running.empty()) break;
            for (const ChildEnd& end : children.wait(250)) {
                const std::size_t index = running.at(end.pid);
                running.erase(end.pid);
                const fs::path folder = dir / "points" / plan.points[index].id;
                const std::string stderr_path = (folder / "stderr.txt").string();
                if (end.ok() && fs::exists(folder / "stats.json", ec)) {
                    fs::remove(stderr_path, ec);
                    ++ran;
                } else {
                    failures[index] = child_error(stderr_path, end);
                }
            }
        }
    }
    progress.clear();
    if (!failures.empty()) {
        const auto& [index, message] = *failures.begin();
        const Point& p = plan.points[index];
        throw RunError("sweep point " + p.id + " (" + point_label(plan, p) + ") failed: " + message +
                       "; the points that finished are kept in " + options.out +
                       " and reused when the same command is run again");
    }

    json dimensions = json::array();
    if (plan.config_dimension) {
        json names = json::array();
        for (const Config& c : plan.configs) names.push_back(c.name);
        dimensions.push_back({{"key", "config"}, {"values", names}});
    }
    for (const GridDimension& d : plan.grid) dimensions.push_back({{"key", d.key}, {"values", d.values}});
    std::vector<SweepResultPoint> points;
    for (const Point& p : plan.points) {
        SweepResultPoint r;
        r.id = p.id;
        r.grid = json::object();
        if (plan.config_dimension) r.grid["config"] = plan.configs[p.config].name;
        for (std::size_t d = 0; d < plan.grid.size(); ++d) r.grid[plan.grid[d].key] = plan.grid[d].values[p.value[d]];
        r.stats = read_json_file((dir / "points" / p.id / "stats.json").string());
        points.push_back(std::move(r));
    }
    const json results = sweep_results(dimensions, points);
    const std::string results_text = stats_text(results);
    const std::string csv_path = (dir / "results.csv").string(), json_path = (dir / "results.json").string();
    write_file_atomic(csv_path, sweep_results_csv(results));
    write_file_atomic(json_path, results_text);
    if (options.json) return results_text;
    return std::to_string(plan.points.size()) + " points: " + std::to_string(ran) + " run, " + std::to_string(reused) +
           " reused; results: " + csv_path + ", " + json_path + "\n";
}

}  // namespace mmusim::sim
