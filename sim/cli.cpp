#include "sim/cli.h"

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <string_view>

#include <CLI/CLI.hpp>

#include "models/kernel/kernel_error.h"
#include "sim/checkpoints_output.h"
#include "sim/compare.h"
#include "sim/config.h"
#include "sim/config_error.h"
#include "sim/guest_plan.h"
#include "sim/logging.h"
#include "sim/output.h"
#include "sim/platforms_cmd.h"
#include "sim/progress.h"
#include "sim/report.h"
#include "sim/run.h"
#include "sim/sweep.h"
#include "sim/timeline_output.h"
#include "workloads/workload_error.h"

namespace mmusim::sim {

using nlohmann::json;

namespace {

std::vector<Override> parse_overrides(const std::vector<std::string>& sets) {
    std::vector<Override> out;
    for (const std::string& s : sets) out.push_back(parse_override(s));
    return out;
}

std::string summary(const json& stats) {
    std::ostringstream os;
    const json& pmu = stats["pmu"];
    const json& d = stats["derived"];
    const json& k = stats["kernel"];
    const auto num = [](const json& v) {
        if (v.is_null()) return std::string("-");
        char text[32];
        std::snprintf(text, sizeof text, "%.6f", v.get<double>());
        return std::string(text);
    };
    os << "records " << stats["workload"]["records"] << ", instructions " << pmu["INST_RETIRED"] << ", cycles "
       << stats["cycles"] << "\n";
    os << "L1D_TLB " << pmu["L1D_TLB"] << "  L1D_TLB_REFILL " << pmu["L1D_TLB_REFILL"] << "  L2D_TLB " << pmu["L2D_TLB"]
       << "  L2D_TLB_REFILL " << pmu["L2D_TLB_REFILL"] << "  DTLB_WALK " << pmu["DTLB_WALK"] << "\n";
    os << "L1I_TLB " << pmu["L1I_TLB"] << "  L1I_TLB_REFILL " << pmu["L1I_TLB_REFILL"] << "  ITLB_WALK " << pmu["ITLB_WALK"] << "\n";
    os << "L1D miss ratio " << num(d["l1d_miss_ratio"]) << "  walk ratio " << num(d["walk_ratio"])
       << "  DTLB_WALK MPKI " << num(d["mpki"]["DTLB_WALK"]) << "\n";
    os << "faults " << k["faults"]["total"] << "  blocks mapped cont " << k["contpte"]["blocks_mapped_cont"] << "  folds "
       << k["contpte"]["folds"] << "  unfolds " << k["contpte"]["unfolds"] << "  kernel cycles " << k["cycles"] << "\n";
    return os.str();
}

int fail(const std::string& message) {
    std::cerr << "mmusim: error: " << message << std::endl;
    return 1;
}

}  // namespace

// The invariant checker runs with --check, or when the environment sets MMUSIM_CHECK to
// anything but "" or "0" (the test suite sets it, so that every run of its checks too).
static bool check_wanted(bool flag) {
    const char* env = std::getenv("MMUSIM_CHECK");
    return flag || (env != nullptr && *env != '\0' && std::string_view(env) != "0");
}

int cli_main(int argc, char** argv) {
    CLI::App app{"mmusim: a deterministic simulator of the arm64 MMU and of the Linux arm64 page-table code"};
    app.require_subcommand(1);
    app.set_version_flag("--version", std::string("mmusim ") + MMUSIM_VERSION);
    std::string log_level = "warn";
    app.add_option("--log-level", log_level, "LEVEL or LEVEL,module=LEVEL,... (modules: sim, core, mmu, kernel, workload, systemc)");

    std::string config_path, out_dir = "mmusim-out";
    std::vector<std::string> sets, varies;
    bool json_out = false;

    CLI::App* run = app.add_subcommand("run", "run a config and write its statistics");
    run->add_option("config", config_path, "config file (JSON)")->required();
    run->add_option("--set", sets, "override one key: KEY=VALUE (VALUE parsed as JSON when it parses)");
    run->add_option("--out", out_dir, "output folder for stats.json")->capture_default_str();
    run->add_flag("--json", json_out, "print the statistics document to stdout, and nothing else");
    std::string timeline_path, timeline_events = std::to_string(kTimelineEventsDefault);
    run->add_option("--timeline", timeline_path, "also write the kernel's events per core in simulated time to FILE "
                    "(Chrome trace-event JSON, for ui.perfetto.dev); its folder must exist")->type_name("FILE");
    run->add_option("--timeline-events", timeline_events, "record at most N timeline events")->type_name("N")->capture_default_str();
    std::string checkpoints_path;
    run->add_option("--checkpoints", checkpoints_path, "also write the page states and counters recorded at the script's "
                    "checkpoint ops to FILE (JSON, schema mmusim-checkpoints/1); its folder must exist")->type_name("FILE");
    bool check = false;
    constexpr const char* kCheckHelp = "check the page tables and the TLBs after every kernel operation and stop at the first "
                                       "broken invariant (slower; also on when the environment sets MMUSIM_CHECK=1)";
    run->add_flag("--check", check, kCheckHelp);

    CLI::App* compare = app.add_subcommand("compare", "run a config once per value of a key, side by side");
    compare->add_option("config", config_path, "config file (JSON)")->required();
    compare->add_option("--vary", varies, "KEY=V1,V2[,...]; repeat it to vary several keys together (value i of each in run i)")
        ->required();
    compare->add_option("--set", sets, "override one key: KEY=VALUE");
    std::string compare_out;
    compare->add_option("--out", compare_out, "also write compare.json and each run's stats.json into this folder");
    compare->add_flag("--json", json_out, "print the comparison as JSON instead of a table");
    compare->add_flag("--check", check, kCheckHelp);

    CLI::App* validate = app.add_subcommand("validate", "check a config (and open its workload) without running it");
    validate->add_option("config", config_path, "config file (JSON)")->required();
    validate->add_option("--set", sets, "override one key: KEY=VALUE");

    CLI::App* guest_plan = app.add_subcommand("guest-plan", "write a workload script as the plan that scripts/linux-check's "
                                              "guest program performs on a real kernel");
    guest_plan->add_option("config", config_path, "config file (JSON)")->required();
    guest_plan->add_option("--set", sets, "override one key: KEY=VALUE");
    std::string plan_out;
    guest_plan->add_option("-o,--out", plan_out, "the plan file to write (default: standard output)")->type_name("FILE");

    SweepOptions sweep_options;
    CLI::App* sweep = add_sweep_command(app, sweep_options);
    sweep->add_flag("--check", sweep_options.check, kCheckHelp);

    CLI::App* platforms = app.add_subcommand("platforms", "list the platform presets and their main parameters");
    platforms->add_flag("--json", json_out, "print the list as JSON instead of a table");

    CLI::App* report = app.add_subcommand("report", "write one self-contained HTML page of a run, compare or sweep folder");
    std::string report_dir, report_file;
    report->add_option("dir", report_dir, "the folder (holding stats.json, compare.json or results.json)")->required();
    report->add_option("-o,--out", report_file, "the page to write (default DIR/report.html)");

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }

    try {
        setup_logging(log_level);
        const std::vector<Override> overrides = parse_overrides(sets);
        if (*run) {
            const std::uint64_t timeline_cap = parse_timeline_events(timeline_events);
            if (run->count("--timeline-events") != 0 && run->count("--timeline") == 0)
                throw ConfigError("--timeline-events " + timeline_events + ": there is no timeline to cap; add --timeline FILE");
            if (run->count("--timeline") != 0) check_timeline_path(timeline_path);
            RunConfig rc = load_config(config_path, overrides);
            rc.check_invariants = check_wanted(check);
            std::unique_ptr<kernel::Timeline> timeline = run->count("--timeline") != 0 ? make_timeline(rc, timeline_cap) : nullptr;
            std::unique_ptr<kernel::CheckpointLog> checkpoints;
            if (run->count("--checkpoints") != 0) {
                check_output_file("--checkpoints", checkpoints_path, "checkpoints.json");
                checkpoints = make_checkpoint_log(rc);
            }
            Progress progress(Progress::wanted(json_out));
            progress.set_record_total(expected_records(rc));
            const json stats = run_simulation(rc, timeline.get(), &progress, checkpoints.get());
            progress.clear();
            // The timeline and the checkpoints first: if they cannot be written, no statistics
            // are left behind.
            if (timeline != nullptr) write_timeline(timeline_path, *timeline, rc);
            if (checkpoints != nullptr) write_file_atomic(checkpoints_path, checkpoints_text(rc, *checkpoints));
            const std::string text = stats_text(stats);
            write_file_atomic(out_dir + "/stats.json", text);
            if (json_out) std::cout << text;
            else std::cout << summary(stats) << "statistics: " << out_dir << "/stats.json\n";
            if (!json_out && timeline != nullptr) std::cout << "timeline: " << timeline_path << " (" << timeline->recorded() << " events)\n";
        } else if (*compare) {
            const json result = run_compare(config_path, overrides, varies, check_wanted(check));
            if (!compare_out.empty()) {
                for (std::size_t i = 0; i < result["runs"].size(); ++i)
                    write_file_atomic(compare_out + "/run" + std::to_string(i) + "/stats.json", stats_text(result["runs"][i]));
                write_file_atomic(compare_out + "/compare.json", stats_text(result));
            }
            if (json_out) std::cout << stats_text(result);
            else std::cout << compare_table(result);
        } else if (*validate) {
            // The whole workload is read (streamed, not simulated), so a trace that is cut
            // short or has a bad line further on is found now rather than mid-run.
            const RunConfig rc = load_config(config_path, overrides);
            auto source = open_workload(rc);
            std::vector<workloads::Record> batch(4096);
            std::uint64_t records = 0, kernel_calls = 0, kernel_accesses = 0;
            for (std::size_t n; (n = source->next(batch.data(), batch.size())) != 0;) {
                records += n;
                for (std::size_t i = 0; i < n; ++i) {
                    records -= batch[i].kind == workloads::AccessKind::Checkpoint;  // not a record of the run
                    kernel_calls += batch[i].kind == workloads::AccessKind::Kernel;
                    kernel_accesses += (batch[i].flags & workloads::kRecordKernelAccess) != 0;
                }
            }
            // A trace's records are its access lines; the records its system calls add are
            // counted apart, so that the count matches the trace's lines.
            std::string calls;
            if (rc.workload.is_trace) {
                records -= kernel_calls + kernel_accesses;
                if (kernel_calls + kernel_accesses != 0)
                    calls = ", " + std::to_string(kernel_calls) + " kernel calls and " + std::to_string(kernel_accesses) +
                            " kernel accesses of its system calls";
            }
            std::cout << config_path << ": valid (platform " << rc.platform.name << ", kernel " << rc.kernel.version.name()
                      << ", " << (rc.workload.is_trace ? "trace " + rc.workload.trace_path : rc.workload.is_script ? std::string("script") : std::string("generator")) << ", "
                      << records << " records" << calls << ")\n";
        } else if (*guest_plan) {
            if (guest_plan->count("--out") != 0) check_output_file("--out", plan_out, "plan.txt");
            const std::string text = guest_plan_text(load_config(config_path, overrides));
            if (plan_out.empty()) std::cout << text;
            else write_file_atomic(plan_out, text);
        } else if (*sweep) {
            sweep_options.check = check_wanted(sweep_options.check);
            std::cout << run_sweep(sweep_options, log_level);
        } else if (*report) {
            const std::string written = write_report(report_dir, report_file);
            std::cout << "report: " << written << "\n";
        } else if (*platforms) {
            const json doc = platforms_json();
            if (json_out) std::cout << stats_text(doc);
            else std::cout << platforms_table(doc);
        }
    } catch (const ConfigError& e) {
        return fail(e.what());
    } catch (const RunError& e) {
        return fail(e.what());

    } catch (const workloads::WorkloadError& e) {
        return fail(e.what());
    } catch (const ReportError& e) {
        return fail(e.what());
    } catch (const std::exception& e) {
        return fail(std::string("internal error: ") + e.what());
    }
    return 0;
}

}  // namespace mmusim::sim
