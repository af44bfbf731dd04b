// Speed and memory of the full simulator (issue targets: >= 20 M translations/s on a
// TLB-hit-dominated stream through the SystemC path; >= 5 M lackey gzip records/s end to
// end; memory flat in trace length). Prints items per second and peak RSS.
#include <benchmark/benchmark.h>
#include <sys/resource.h>
#include <unistd.h>
#include <zlib.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "sim/config.h"
#include "sim/run.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

fs::path work_dir() {
    static const fs::path dir = [] {
        const fs::path d = fs::temp_directory_path() / ("mmusim-bench-" + std::to_string(::getpid()));
        fs::create_directories(d);
        return d;
    }();
    return dir;
}

mmusim::sim::RunConfig config_from(const json& doc, const std::string& name) {
    const fs::path path = work_dir() / name;
    std::ofstream(path) << doc.dump(2);
    return mmusim::sim::load_config(path.string(), {});
}

double peak_rss_mib() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return static_cast<double>(u.ru_maxrss) / 1024.0;
}

// A realistic record mix: 60% instruction fetches walking a 64 KiB code loop, 40% data
// accesses (one store in three) spread over a 16 MiB heap by a fixed LCG.
std::string make_trace(std::uint64_t records) {
    const fs::path path = work_dir() / ("trace-" + std::to_string(records) + ".lackey.gz");
    if (fs::exists(path)) return path.string();
    gzFile out = gzopen(path.c_str(), "wb6");
    gzprintf(out, "==1== Lackey, an example Valgrind tool\n");
    std::uint64_t pc = 0x400000, lcg = 12345;
    for (std::uint64_t i = 0; i < records; ++i) {
        lcg = lcg * 6364136223846793005ull + 1442695040888963407ull;
        const unsigned kind = static_cast<unsigned>((lcg >> 33) % 10);
        if (kind < 6) {
            gzprintf(out, "I  %08lx,4\n", static_cast<unsigned long>(pc));
            pc = 0x400000 + ((pc - 0x400000 + 4) & 0xffff);
        } else {
            const unsigned long va = 0x10000000ul + static_cast<unsigned long>((lcg >> 20) & 0xfffff8);
            gzprintf(out, kind < 9 ? " L %08lx,8\n" : " S %08lx,8\n", va);
        }
    }
    gzclose(out);
    return path.string();
}

void BM_TranslationsTlbHit(benchmark::State& state) {
    const std::uint64_t count = 4'000'000;
    // 32 KiB of data: 8 pages, all in the L1D after the first touches.
    const auto rc = config_from({{"kernel", {{"mthp", json::array()}}},
                                 {"workload", {{"generator", {{"pattern", "sequential"}, {"length", "32K"},
                                                              {"count", count}, {"store_fraction", 0.2}}}}}},
                                "hit.json");
    std::uint64_t requests = 0;
    for (auto _ : state) {
        const json stats = mmusim::sim::run_simulation(rc);
        requests += stats["workload"]["requests"].get<std::uint64_t>();
    }
    state.counters["translations_per_s"] = benchmark::Counter(static_cast<double>(requests), benchmark::Counter::kIsRate);
    state.counters["peak_rss_MiB"] = peak_rss_mib();
}
BENCHMARK(BM_TranslationsTlbHit)->Unit(benchmark::kMillisecond)->MinTime(2.0);

void BM_LackeyGzipEndToEnd(benchmark::State& state) {
    const auto records = static_cast<std::uint64_t>(state.range(0));
    const std::string trace = make_trace(records);
    const auto rc = config_from({{"kernel", {{"mthp", {"64K"}}}},
                                 {"workload", {{"trace", {{"path", trace}, {"format", "lackey"}}}}}},
                                "trace-" + std::to_string(records) + ".json");
    std::uint64_t done = 0;
    for (auto _ : state) {
        const json stats = mmusim::sim::run_simulation(rc);
        done += stats["workload"]["records"].get<std::uint64_t>();
    }
    state.counters["records_per_s"] = benchmark::Counter(static_cast<double>(done), benchmark::Counter::kIsRate);
    // ru_maxrss only grows: run the short trace first; if the long one adds nothing, memory
    // does not depend on trace length.
    state.counters["peak_rss_MiB"] = peak_rss_mib();
}
BENCHMARK(BM_LackeyGzipEndToEnd)->Arg(1'000'000)->Arg(16'000'000)->Unit(benchmark::kMillisecond)->MinTime(2.0);

// Threads of one process on 1, 2 or 4 cores, each thread 1 M uniform accesses (30 % stores)
// over a shared 64 MiB region with 64K folios, quantum 1000 cycles: the cost of the quantum
// synchronisations, the kernel's synchronisation points and the broadcast maintenance as
// cores are added. records_per_s counts the records of all cores per second of wall time,
// records_per_s_per_core the same divided by the core count.
void BM_MultiCore(benchmark::State& state) {
    const auto cores = static_cast<unsigned>(state.range(0));
    const std::uint64_t count = 1'000'000;
    const auto rc = config_from({{"platform", {{"preset", "neoverse-n1"}, {"cores", cores}, {"quantum", 1000}}},
                                 {"kernel", {{"mthp", {"64K"}}}},
                                 {"workload", {{"threads", cores},
                                               {"generator", {{"pattern", "uniform"}, {"length", "64M"},
                                                              {"count", count}, {"store_fraction", 0.3}}}}}},
                                "smp-" + std::to_string(cores) + ".json");
    std::uint64_t done = 0;
    for (auto _ : state) {
        const json stats = mmusim::sim::run_simulation(rc);
        done += stats["workload"]["records"].get<std::uint64_t>();
    }
    state.counters["records_per_s"] = benchmark::Counter(static_cast<double>(done), benchmark::Counter::kIsRate);
    state.counters["records_per_s_per_core"] =
        benchmark::Counter(static_cast<double>(done) / cores, benchmark::Counter::kIsRate);
    state.counters["peak_rss_MiB"] = peak_rss_mib();
}
BENCHMARK(BM_MultiCore)->Arg(1)->Arg(2)->Arg(4)->Unit(benchmark::kMillisecond)->MinTime(2.0);

// The invariant checker's cost (`--check`): a shipped config run without it (the anchor) and
// with it, in the same iteration; check_slowdown is the ratio of the two wall times.
// Argument 0: configs/zipf.json (2 M generator records, 76 K page faults); 1:
// configs/jit_wx_flips.json (a script of mprotect flips, faults and fold-scanner passes).
void BM_InvariantCheck(benchmark::State& state) {
    const char* name = state.range(0) == 0 ? "zipf.json" : "jit_wx_flips.json";
    mmusim::sim::RunConfig rc = mmusim::sim::load_config(std::string(MMUSIM_SOURCE_DIR) + "/configs/" + name, {});
    double off = 0, on = 0;
    for (auto _ : state) {
        for (const bool check : {false, true}) {
            rc.check_invariants = check;
            const auto start = std::chrono::steady_clock::now();
            benchmark::DoNotOptimize(mmusim::sim::run_simulation(rc));
            (check ? on : off) += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        }
    }
    state.counters["check_slowdown"] = on / off;
    state.counters["peak_rss_MiB"] = peak_rss_mib();
}
BENCHMARK(BM_InvariantCheck)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->Iterations(2);

// Layout "trace" against layout "auto" on the same records: a shipped arm64 trace (the first
// 4 M records of xz -9: its exec mappings, 35 system calls, its kernel accesses to buffers)
// run both ways in the same iteration; trace_over_auto is the ratio of the two wall times.
void BM_LayoutTrace(benchmark::State& state) {
    const std::string trace = std::string(MMUSIM_SOURCE_DIR) + "/traces/xz.arm64.lackey.zst";
    const auto config = [&](const char* layout) {
        return config_from({{"kernel", {{"mthp", {"64K"}}}},
                            {"workload", {{"trace", {{"path", trace}, {"format", "lackey"}}},
                                          {"layout", layout},
                                          {"max_records", 4'000'000}}}},
                           std::string("layout-") + layout + ".json");
    };
    const mmusim::sim::RunConfig automatic = config("auto"), traced = config("trace");
    double t_auto = 0, t_trace = 0;
    std::uint64_t done = 0;
    for (auto _ : state) {
        for (const bool use_trace : {false, true}) {
            const auto start = std::chrono::steady_clock::now();
            const json stats = mmusim::sim::run_simulation(use_trace ? traced : automatic);
            (use_trace ? t_trace : t_auto) += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
            done += stats["workload"]["records"].get<std::uint64_t>();
        }
    }
    state.counters["trace_over_auto"] = t_trace / t_auto;
    state.counters["records_per_s"] = benchmark::Counter(static_cast<double>(done), benchmark::Counter::kIsRate);
    state.counters["peak_rss_MiB"] = peak_rss_mib();
}
BENCHMARK(BM_LayoutTrace)->Unit(benchmark::kMillisecond)->Iterations(3);

}  // namespace

int main(int argc, char** argv) {
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    std::error_code ec;
    fs::remove_all(work_dir(), ec);  // the generated traces and configs
    return 0;
}
