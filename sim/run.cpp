#include "sim/run.h"

#include <vector>

#include <systemc>

#include "models/kernel/checkpoint.h"
#include "platforms/platform.h"
#include "sim/logging.h"
#include "sim/progress.h"
#include "sim/sc_context.h"
#include "sim/stats.h"
#include "workloads/generator.h"
#include "workloads/lackey_reader.h"
#include "workloads/limited_source.h"
#include "workloads/script_source.h"

namespace mmusim::sim {

std::unique_ptr<workloads::Source> open_workload(const RunConfig& config, unsigned thread) {
    const WorkloadConfig& w = config.workload;
    std::unique_ptr<workloads::Source> source;
    if (w.is_script) {
        source = std::make_unique<workloads::ScriptSource>(w.script, config.seed, thread);
    } else {
        workloads::GeneratorParams generator = w.generator;
        generator.seed += thread;
        // In layout "auto" a trace's system calls are not run (the one VMA already covers every
        // address): only its memory accesses are replayed.
        source = w.is_trace ? workloads::open_lackey(w.trace_path, w.layout_trace) : workloads::make_generator(generator);
    }
    if (w.max_records != 0) source = std::make_unique<workloads::LimitedSource>(std::move(source), w.max_records);
    return source;
}

namespace {

// The line of a trace that holds its `record`th record (1-based), found by reading the trace
// again up to it: cheap next to the run that stopped there, and nothing on the hot path.
std::uint64_t trace_line(const WorkloadConfig& w, std::uint64_t record) {
    workloads::LackeyReader reader(w.trace_path, w.layout_trace);
    std::vector<workloads::Record> batch(4096);
    for (std::uint64_t left = record; left > 0;) {
        const std::size_t n = reader.next(batch.data(), static_cast<std::size_t>(std::min<std::uint64_t>(left, batch.size())));
        if (n == 0) break;
        left -= n;
    }
    return reader.line();
}

// A trace run's error names the trace line of the record it stopped at (a system call's own
// error already names its line) instead of the core and record number.
std::string trace_error(const RunConfig& config, const core::Core& core) {
    const std::string& error = core.error();
    if (!config.workload.is_trace || core.error_record() == 0) return error;
    std::string rest = error;
    // A trace is one thread, on core 0.
    const std::string prefix = "core 0, record " + std::to_string(core.error_record()) + ": ";
    if (rest.rfind(prefix, 0) == 0) rest = rest.substr(prefix.size());
    if (rest.rfind(config.workload.trace_path + ":", 0) == 0) return rest;
    try {
        return config.workload.trace_path + ":" + std::to_string(trace_line(config.workload, core.error_record())) + ": " + rest;
    } catch (const std::exception&) {
        return error;
    }
}

}  // namespace

nlohmann::json run_simulation(const RunConfig& config, kernel::Timeline* timeline, Progress* progress,
                              kernel::CheckpointLog* checkpoints) {
    // Open the workload first: a missing or unreadable trace fails before anything runs.
    std::vector<platforms::WorkloadThread> threads;
    for (unsigned t = 0; t < config.workload.threads; ++t) {
        std::unique_ptr<workloads::Source> source = open_workload(config, t);
        if (progress != nullptr && progress->enabled()) source = counted_source(std::move(source), *progress);
        threads.push_back(platforms::WorkloadThread{std::move(source), config.workload.placement[t],
                                                    config.workload.is_script && t > 0});
    }

    // Layout "trace": the address space at exec comes from the trace's @map lines.
    std::vector<kernel::InitialMapping> initial;
    if (config.workload.layout_trace) {
        const std::vector<workloads::TraceMapping>& maps = threads[0].source->initial_mappings();
        if (maps.empty())
            throw RunError(config.workload.trace_path +
                           ": workload.layout \"trace\" needs the address space the program had at exec, and this trace has "
                           "no @map lines (valgrind traces and traces recorded before @map existed have none); re-capture "
                           "it with traces/capture.sh --arch arm64, or set workload.layout to \"auto\"");
        for (const workloads::TraceMapping& m : maps)
            initial.push_back(kernel::InitialMapping{m.start, m.end, m.read, m.write, m.exec, m.shared, m.offset, m.name});
    }

    fresh_systemc_context();
    auto log = logger("sim");
    log->info("running {} on {} ({} core(s)), kernel {}", config.source, config.platform.name, config.platform.cores,
              config.kernel.version.name());
    const bool allow_syscall_errors = config.workload.is_script && config.workload.script->allow_errors;
    platforms::Platform platform(config.platform, config.kernel, std::move(threads), allow_syscall_errors,
                                 config.check_invariants, config.workload.count_segv);
    if (config.workload.layout_trace) platform.kernel().install_initial_mappings(initial);
    if (timeline != nullptr) platform.kernel().set_timeline(timeline);
    if (checkpoints != nullptr) {
        kernel::Kernel& k = platform.kernel();
        for (unsigned i = 0; i < platform.cores(); ++i)
            platform.core(i).set_checkpoint_hook([checkpoints, &k](unsigned op) { checkpoints->record(k, op); });
    }
    sc_core::sc_start();
    for (unsigned i = 0; i < platform.cores(); ++i) {
        const core::Core& core = platform.core(i);
        if (!core.error().empty()) throw RunError(trace_error(config, core));
    }
    for (unsigned i = 0; i < platform.cores(); ++i) {
        const core::Core& core = platform.core(i);
        if (core.done()) continue;
        if (core.stats().records == 0)
            throw RunError("core " + std::to_string(i) + " never started its thread: the main thread ended before the spawn "
                           "op that starts it (was it cut short by workload.max_records?)");
        throw RunError("core " + std::to_string(i) + " did not finish its workload");
    }
    if (const check::InvariantChecker* checker = platform.checker())
        log->info("invariant checker: the page tables and TLBs held after each of {} kernel operations",
                  checker->ops_checked());
    nlohmann::json stats = collect_stats(config, platform);
    log->info("done: {} records, {} cycles", stats["workload"]["records"].get<std::uint64_t>(),
              stats["cycles"].get<std::uint64_t>());
    return stats;
}

}  // namespace mmusim::sim
