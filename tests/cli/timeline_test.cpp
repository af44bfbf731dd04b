// `mmusim run --timeline FILE [--timeline-events N]`: the file is a valid Chrome trace-event
// document (checked by the validator below), its spans and instants agree with the
// statistics, the cap truncates it with a warning, it is deterministic, it leaves the
// statistics unchanged, and bad paths and caps are clean errors that write nothing.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/cli/cli_helpers.h"

namespace mmusim::cli_test {
namespace {

using nlohmann::json;

std::string config_path(const std::string& name) { return (fs::path(MMUSIM_SOURCE_DIR) / "configs" / name).string(); }

// Times in the file are microseconds with up to six decimals: compare them as picoseconds.
std::int64_t ps(const json& v) { return std::llround(v.get<double>() * 1e6); }

// The trace-event format as the timeline uses it: a top-level object with a traceEvents array;
// each event with a string name, ph in {X, i, M, B, E}, a number ts >= 0 and integer pid and
// tid; X with a number dur >= 0; i with s in {g, p, t}; M only process_name and thread_name
// with a string args.name; events sorted by ts; per tid, X events nest (none overlaps another
// in part).
::testing::AssertionResult valid_trace(const json& doc) {
    if (!doc.is_object() || !doc.contains("traceEvents") || !doc["traceEvents"].is_array())
        return ::testing::AssertionFailure() << "no traceEvents array at the top";
    std::int64_t last_ts = 0;
    std::map<std::int64_t, std::vector<std::int64_t>> open;  // per tid: the ends of the enclosing spans
    std::size_t index = 0;
    for (const json& e : doc["traceEvents"]) {
        const auto bad = [&](const std::string& what) {
            return ::testing::AssertionFailure() << "event " << index << " " << e.dump() << ": " << what;
        };
        ++index;
        if (!e.contains("name") || !e["name"].is_string()) return bad("name is not a string");
        if (!e.contains("ph") || !e["ph"].is_string()) return bad("ph is not a string");
        const std::string ph = e["ph"];
        if (ph != "X" && ph != "i" && ph != "M" && ph != "B" && ph != "E") return bad("ph is not one of X, i, M, B, E");
        if (!e.contains("ts") || !e["ts"].is_number() || e["ts"].get<double>() < 0) return bad("ts is not a number >= 0");
        if (!e.contains("pid") || !e["pid"].is_number_integer()) return bad("pid is not an integer");
        if (!e.contains("tid") || !e["tid"].is_number_integer()) return bad("tid is not an integer");
        if (ph == "X" && (!e.contains("dur") || !e["dur"].is_number() || e["dur"].get<double>() < 0))
            return bad("an X event without a number dur >= 0");
        if (ph == "i" && (!e.contains("s") || (e["s"] != "g" && e["s"] != "p" && e["s"] != "t")))
            return bad("an instant without s in g, p, t");
        if (ph == "M") {
            if (e["name"] != "process_name" && e["name"] != "thread_name") return bad("metadata other than process/thread names");
            if (!e.contains("args") || !e["args"].contains("name") || !e["args"]["name"].is_string())
                return bad("metadata without a string args.name");
            continue;
        }
        const std::int64_t ts = ps(e["ts"]);
        if (ts < last_ts) return bad("not sorted by ts");
        last_ts = ts;
        if (ph != "X") continue;
        const std::int64_t end = ts + ps(e["dur"]);
        std::vector<std::int64_t>& stack = open[e["tid"].get<std::int64_t>()];
        while (!stack.empty() && stack.back() <= ts) stack.pop_back();
        if (!stack.empty() && end > stack.back()) return bad("overlaps an enclosing span in part");
        stack.push_back(end);
    }
    return ::testing::AssertionSuccess();
}

TEST(TraceValidator, RejectsWhatTheFormatForbids) {
    const auto doc = [](const json& e) { return json{{"traceEvents", json::array({e})}}; };
    const json span = {{"name", "a"}, {"ph", "X"}, {"ts", 1.5}, {"dur", 2}, {"pid", 1}, {"tid", 0}};
    const json instant = {{"name", "b"}, {"ph", "i"}, {"s", "t"}, {"ts", 2}, {"pid", 1}, {"tid", 0}};
    const json meta = {{"name", "thread_name"}, {"ph", "M"}, {"ts", 0}, {"pid", 1}, {"tid", 0}, {"args", {{"name", "core 0"}}}};
    EXPECT_TRUE(valid_trace(json{{"traceEvents", {meta, span, instant}}}));
    EXPECT_FALSE(valid_trace(json::array()));
    EXPECT_FALSE(valid_trace(json{{"events", json::array()}}));
    const std::vector<std::pair<const char*, json>> changes = {
        {"name", 3}, {"ph", "Q"}, {"ts", -1}, {"ts", "1"}, {"pid", 1.5}, {"tid", "0"}, {"dur", -1}};
    for (const auto& [key, value] : changes) {
        json e = span;
        e[key] = value;
        EXPECT_FALSE(valid_trace(doc(e))) << key << " " << value;
    }
    json no_dur = span;
    no_dur.erase("dur");
    EXPECT_FALSE(valid_trace(doc(no_dur)));
    json bad_scope = instant;
    bad_scope["s"] = "x";
    EXPECT_FALSE(valid_trace(doc(bad_scope)));
    json other_meta = meta;
    other_meta["name"] = "thread_sort_index";
    EXPECT_FALSE(valid_trace(doc(other_meta)));
    // Unsorted; partly overlapping on one track (fine on two); nested and touching spans pass.
    json later = span;
    later["ts"] = 0.5;
    EXPECT_FALSE(valid_trace(json{{"traceEvents", {span, later}}}));
    json overlap = span;
    overlap["ts"] = 2.5;  // [1.5, 3.5] and [2.5, 4.5]
    EXPECT_FALSE(valid_trace(json{{"traceEvents", {span, overlap}}}));
    overlap["tid"] = 1;
    EXPECT_TRUE(valid_trace(json{{"traceEvents", {span, overlap}}}));
    json child = span;
    child["ts"] = 2.5;
    child["dur"] = 1;  // [2.5, 3.5] inside [1.5, 3.5]
    json next = span;
    next["ts"] = 3.5;  // starts where the first ends
    EXPECT_TRUE(valid_trace(json{{"traceEvents", {span, child, next}}}));
}

bool within(const json& inner, const json& outer) {
    return inner["tid"] == outer["tid"] && ps(inner["ts"]) >= ps(outer["ts"]) &&
           ps(inner["ts"]) + (inner.contains("dur") ? ps(inner["dur"]) : 0) <= ps(outer["ts"]) + ps(outer["dur"]);
}
bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }
bool is_barrier(const std::string& name) { return starts_with(name, "DSB.") || name == "ISB"; }

// Events other than metadata.
std::vector<json> events(const json& doc) {
    std::vector<json> out;
    for (const json& e : doc["traceEvents"])
        if (e["ph"] != "M") out.push_back(e);
    return out;
}

std::map<std::string, std::uint64_t> count_names(const json& doc) {
    std::map<std::string, std::uint64_t> n;
    for (const json& e : events(doc)) ++n[e["name"].get<std::string>()];
    return n;
}

// The last page of a folded 64K block made read-only (an unfold), then read-write again (a
// refold: a fold is tried at a block's last page), between a populated mapping, an
// MADV_DONTNEED of a whole block and the unmap.
json mprotect_config() {
    const json ops = {
        {{"op", "mmap"}, {"region", "heap"}},
        {{"op", "access"}, {"region", "heap"}, {"stride", "4K"}, {"mix", "store"}},
        {{"op", "mprotect"}, {"region", "heap"}, {"offset", "124K"}, {"size", "4K"}, {"prot", "r"}},
        {{"op", "mprotect"}, {"region", "heap"}, {"offset", "124K"}, {"size", "4K"}, {"prot", "rw"}},
        {{"op", "madvise"}, {"region", "heap"}, {"offset", "128K"}, {"size", "64K"}, {"advice", "dontneed"}},
        {{"op", "munmap"}, {"region", "heap"}}};
    return {{"platform", "neoverse-n1"},
            {"kernel", {{"version", "6.17"}, {"granule", "4K"}, {"mthp", {"64K"}}}},
            {"workload", {{"script", {{"regions", {{{"name", "heap"}, {"size", "256K"}, {"align", "64K"}}}}, {"ops", ops}}}}}};
}

class CliTimeline : public ::testing::Test {
protected:
    CliResult mmusim(const std::vector<std::string>& args) { return run_mmusim(args, dir.path()); }

    // Runs `args` + --json + --timeline FILE; the statistics and the timeline.
    std::pair<json, json> run_with_timeline(std::vector<std::string> args, const std::string& file) {
        args.insert(args.end(), {"--json", "--timeline", file});
        const CliResult r = mmusim(args);
        EXPECT_EQ(r.exit_code, 0) << r.err;
        EXPECT_EQ(r.err, "");
        if (r.exit_code != 0) return {json::object(), json::object()};
        return {json::parse(r.out), json::parse(read_text(dir / file))};
    }

    ScratchDir dir;
};

TEST_F(CliTimeline, MprotectSpansHoldTheirConvertTlbisAndBarriers) {
    write_json(dir / "run.json", mprotect_config());
    const auto [stats, doc] = run_with_timeline({"run", "run.json"}, "timeline.json");
    ASSERT_TRUE(valid_trace(doc));
    EXPECT_EQ(doc["displayTimeUnit"], "ns");
    EXPECT_EQ(doc["otherData"]["truncated"], false);
    EXPECT_EQ(doc["otherData"]["events_dropped"], 0);
    EXPECT_EQ(doc["otherData"]["cap"], 1000000);
    EXPECT_EQ(doc["otherData"]["events"], events(doc).size());

    // Metadata: the process named after the program and config, core 0 named.
    std::map<std::string, std::string> names;
    for (const json& e : doc["traceEvents"])
        if (e["ph"] == "M") names[e["name"].get<std::string>() + std::to_string(e["tid"].get<int>())] = e["args"]["name"];
    EXPECT_EQ(names["process_name0"], "mmusim run.json");
    EXPECT_EQ(names["thread_name0"], "core 0");

    // Two mprotect spans: the first holds an unfold, the second a fold, each with the
    // block's TLBIs and barriers inside, and a lazy MMU section.
    const std::vector<json> all = events(doc);
    std::vector<json> mprotects;
    for (const json& e : all)
        if (e["name"] == "mprotect") mprotects.push_back(e);
    ASSERT_EQ(mprotects.size(), 2u);
    EXPECT_EQ(mprotects[0]["args"]["addr"], "0x1001f000");  // the heap is at 0x10000000
    for (std::size_t i = 0; i < 2; ++i) {
        const std::string convert = i == 0 ? "unfold" : "fold";
        std::map<std::string, unsigned> inside;
        for (const json& e : all)
            if (within(e, mprotects[i])) ++inside[e["name"].get<std::string>()];
        EXPECT_EQ(inside[convert], 1u) << convert;
        EXPECT_EQ(inside["lazy_mmu"], 1u);
        EXPECT_GE(inside["TLBI VALE1IS"], 16u) << "the convert's block TLBI, one op per page";
        EXPECT_GE(inside["DSB.ISHST"], 1u);
        EXPECT_GE(inside["DSB.ISH"], 1u);
        EXPECT_EQ(mprotects[i]["args"]["result"], "0");
        EXPECT_EQ(mprotects[i]["args"]["len"], "0x1000");
    }
    for (const json& e : all) {
        if (e["name"] == "unfold" || e["name"] == "fold") {
            EXPECT_EQ(e["args"]["va"], "0x10010000") << e.dump();
        }
    }

    // Counts agree with the statistics: converts, and the calls of each kind of kernel.by_op.
    const std::map<std::string, std::uint64_t> n = count_names(doc);
    const json& k = stats["kernel"];
    EXPECT_EQ(n.at("fold"), k["contpte"]["folds"].get<std::uint64_t>());
    EXPECT_EQ(n.at("unfold"), k["contpte"]["unfolds"].get<std::uint64_t>());
    EXPECT_GT(k["by_op"].size(), 3u);
    for (const auto& [name, op] : k["by_op"].items()) EXPECT_EQ(n.count(name) ? n.at(name) : 0, op["calls"].get<std::uint64_t>()) << name;
    EXPECT_EQ(n.count("madvise(dontneed)"), 1u);

    // Each TLBI and barrier lies inside the call that issued it: per kind of call, the
    // instants inside its spans are what kernel.by_op counts for it.
    for (const auto& [name, op] : k["by_op"].items()) {
        std::map<std::string, std::uint64_t> tlbis, barriers;
        for (const json& call : all) {
            if (call["name"] != name) continue;
            for (const json& e : all) {
                if (e["ph"] != "i" || !within(e, call)) continue;
                const std::string en = e["name"];
                if (starts_with(en, "TLBI ")) ++tlbis[en.substr(5)];
                else if (is_barrier(en)) ++barriers[en];
            }
        }
        EXPECT_EQ(json(tlbis), op["tlbi"]) << name;
        EXPECT_EQ(json(barriers), op["barriers"]) << name;
    }
    // A fault span says what it resolved.
    for (const json& e : all) {
        if (e["name"] != "fault") continue;
        EXPECT_EQ(e["args"]["access"], "store");
        EXPECT_EQ(e["args"]["kind"], "translation");
        EXPECT_TRUE(e["args"]["handler"].is_string());
        EXPECT_TRUE(e["args"]["va"].is_string());
    }
}

TEST_F(CliTimeline, TwoCoresEachHaveTheirTrack) {
    const auto [stats, doc] = run_with_timeline({"run", config_path("smp_threads.json"), "--set", "platform.cores=2", "--set",
                                                 "workload.threads=2", "--set", "workload.generator.count=2000"},
                                                "threads.json");
    ASSERT_TRUE(valid_trace(doc));
    std::set<int> named, used;
    for (const json& e : doc["traceEvents"]) {
        if (e["ph"] == "M" && e["name"] == "thread_name") named.insert(e["tid"].get<int>());
        if (e["ph"] == "X") used.insert(e["tid"].get<int>());
    }
    EXPECT_EQ(named, (std::set<int>{0, 1}));
    EXPECT_EQ(used, (std::set<int>{0, 1}));
    const std::map<std::string, std::uint64_t> n = count_names(doc);
    EXPECT_EQ(n.at("fault"), stats["kernel"]["faults"]["total"].get<std::uint64_t>());
    // Faults of the two cores meet in the kernel: the later one waits, and the wait is shown.
    EXPECT_GT(stats["kernel"]["smp"]["lock_waits"].get<std::uint64_t>(), 0u);
    EXPECT_GT(n.at("lock_wait"), 0u);
    for (const json& e : events(doc)) {
        if (e["name"] == "lock_wait") {
            EXPECT_EQ(e["args"]["holder"], 1 - e["tid"].get<int>()) << e.dump();
        }
    }
    EXPECT_LE(n.at("lock_wait"), stats["kernel"]["smp"]["lock_waits"].get<std::uint64_t>());
}

TEST_F(CliTimeline, ConvertsOnTwoCoresNestInTheirCalls) {
    // The NUMA race, shortened: NUMA hinting faults on core 0 refold blocks (waiting at each
    // DSB and between the stores of each convert) while core 1 reads from them.
    json config = json::parse(read_text(config_path("smp_numa_race.json")));
    for (json& op : config["workload"]["script"]["ops"])
        if (op["op"] == "loop") op["count"] = 5;
    config["workload"]["script"]["threads"][0]["ops"][0]["count"] = 200;
    write_json(dir / "numa_race.json", config);
    const auto [stats, doc] = run_with_timeline({"run", "numa_race.json"}, "numa.json");
    ASSERT_TRUE(valid_trace(doc));
    const std::map<std::string, std::uint64_t> n = count_names(doc);
    EXPECT_EQ(n.at("fold"), stats["kernel"]["contpte"]["folds"].get<std::uint64_t>());
    EXPECT_GT(n.at("fold"), 0u);
    std::set<int> used;
    for (const json& e : events(doc)) used.insert(e["tid"].get<int>());
    EXPECT_EQ(used, (std::set<int>{0, 1}));
}

// The fold scanner's passes are "fold_scan" spans on the track of core 0, and the folds,
// TLBIs and barriers of each pass lie inside its span.
TEST_F(CliTimeline, FoldScannerPassesAreSpansOnCoreZero) {
    const auto [stats, doc] = run_with_timeline({"run", config_path("jit_wx_flips.json"), "--set", "kernel.fold_policy=scanner",
                                                 "--set", "kernel.fold_scanner.interval=1000000"},
                                                "scan.json");
    ASSERT_TRUE(valid_trace(doc));
    ASSERT_EQ(doc["otherData"]["truncated"], false);
    const json& scan = stats["kernel"]["by_op"]["fold_scan"];
    const std::uint64_t passes = stats["kernel"]["contpte"]["scanner"]["passes"].get<std::uint64_t>();
    ASSERT_GT(passes, 1u);
    ASSERT_GT(scan["contpte"]["folds"].get<std::uint64_t>(), 0u);
    const std::vector<json> all = events(doc);
    std::vector<json> spans;
    for (const json& e : all)
        if (e["name"] == "fold_scan") spans.push_back(e);
    ASSERT_EQ(spans.size(), passes);
    std::uint64_t folds = 0, tlbis = 0, barriers = 0;
    for (const json& span : spans) {
        EXPECT_EQ(span["tid"], 0) << span.dump();
        for (const json& e : all) {
            if (!within(e, span) || e["name"] == "fold_scan") continue;
            const std::string name = e["name"];
            if (name == "fold") ++folds;
            else if (starts_with(name, "TLBI ")) ++tlbis;
            else if (is_barrier(name)) ++barriers;
        }
    }
    EXPECT_EQ(folds, scan["contpte"]["folds"].get<std::uint64_t>());
    EXPECT_EQ(tlbis, scan["tlbi"]["VALE1IS"].get<std::uint64_t>());
    std::uint64_t scan_barriers = 0;
    for (const auto& [kind, count] : scan["barriers"].items()) scan_barriers += count.get<std::uint64_t>();
    EXPECT_EQ(barriers, scan_barriers);
}

TEST_F(CliTimeline, CapKeepsTheFirstEventsAndSaysHowManyWereDropped) {
    write_json(dir / "run.json", mprotect_config());
    const auto [stats, full] = run_with_timeline({"run", "run.json"}, "full.json");
    const std::uint64_t total = events(full).size();
    ASSERT_GT(total, 10u);
    EXPECT_EQ(full["otherData"]["events"], total);

    const CliResult r = mmusim({"run", "run.json", "--json", "--timeline", "capped.json", "--timeline-events", "10"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(json::parse(r.out), stats);
    // One warning line, not an error.
    EXPECT_EQ(r.err.find("error"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("--timeline-events 10"), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    const json capped = json::parse(read_text(dir / "capped.json"));
    ASSERT_TRUE(valid_trace(capped));
    EXPECT_EQ(events(capped).size(), 10u);
    EXPECT_EQ(capped["otherData"]["truncated"], true);
    EXPECT_EQ(capped["otherData"]["events_dropped"], total - 10);
    EXPECT_EQ(capped["otherData"]["cap"], 10);
    EXPECT_EQ(capped["otherData"]["events"], 10);
    // The capped file keeps the events the run began with (the full file's first ones, as
    // one core's run is recorded in time order).
    const std::vector<json> first = events(full);
    const std::vector<json> kept = events(capped);
    for (std::size_t i = 0; i < kept.size(); ++i) {
        EXPECT_EQ(kept[i], first[i]) << i;
    }
}

TEST_F(CliTimeline, DeterministicAndTheStatisticsDoNotChange) {
    write_json(dir / "run.json", mprotect_config());
    const std::vector<std::vector<std::string>> commands = {
        {"run", "run.json"},
        {"run", config_path("smp_threads.json"), "--set", "platform.cores=2", "--set", "workload.threads=2", "--set",
         "workload.generator.count=2000"}};
    for (const std::vector<std::string>& command : commands) {
        std::vector<std::string> plain = command, first = command, second = command;
        plain.insert(plain.end(), {"--out", "plain"});
        first.insert(first.end(), {"--out", "first", "--timeline", "a.json"});
        second.insert(second.end(), {"--out", "second", "--timeline", "b.json"});
        std::vector<std::string> outs;
        for (const auto& args : {plain, first, second}) {
            const CliResult r = mmusim(args);
            ASSERT_EQ(r.exit_code, 0) << r.err;
            outs.push_back(r.out);
        }
        EXPECT_EQ(read_text(dir / "a.json"), read_text(dir / "b.json")) << command[1];
        // The summary names the file and its number of events.
        const json doc = json::parse(read_text(dir / "a.json"));
        EXPECT_NE(outs[1].find("timeline: a.json (" + std::to_string(events(doc).size()) + " events)\n"), std::string::npos)
            << outs[1];
        EXPECT_EQ(outs[0].find("timeline:"), std::string::npos);
        EXPECT_EQ(read_text(dir / "plain/stats.json"), read_text(dir / "first/stats.json")) << command[1];
        EXPECT_EQ(read_text(dir / "plain/stats.json"), read_text(dir / "second/stats.json")) << command[1];
        // --json prints the same document with and without a timeline.
        std::vector<std::string> json_plain = command, json_timeline = command;
        json_plain.push_back("--json");
        json_timeline.insert(json_timeline.end(), {"--json", "--timeline", "c.json"});
        EXPECT_EQ(mmusim(json_plain).out, mmusim(json_timeline).out) << command[1];
    }
}

TEST_F(CliTimeline, BadPathsFailBeforeTheRunAndWriteNothing) {
    write_json(dir / "run.json", mprotect_config());
    write_text(dir / "afile", "not a folder\n");
    fs::create_directories(dir / "afolder");
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"missing/timeline.json", "the folder missing does not exist"},
        {"afile/timeline.json", "afile is not a folder"},
        {"afolder", "this is a folder"},
        {"", "the path is empty"}};
    for (const auto& [path, needle] : cases) {
        const CliResult r = mmusim({"run", "run.json", "--out", "out", "--timeline", path});
        EXPECT_TRUE(is_clean_error(r, dir.path(), {"--timeline", needle}));
        EXPECT_FALSE(fs::exists(dir / "out"));
        EXPECT_FALSE(fs::exists(dir / "missing"));
        EXPECT_TRUE(fs::is_directory(dir / "afolder") && fs::is_empty(dir / "afolder"));
    }
}

TEST_F(CliTimeline, BadCapsAreCleanErrors) {
    write_json(dir / "run.json", mprotect_config());
    for (const char* cap : {"0", "-3", "abc", "1e3", "12x", "100000001"}) {
        const CliResult r = mmusim({"run", "run.json", "--out", "out", "--timeline", "t.json", "--timeline-events", cap});
        EXPECT_TRUE(is_clean_error(r, dir.path(), {std::string("--timeline-events ") + cap, "a whole number from 1 to 100000000"}));
        EXPECT_FALSE(fs::exists(dir / "t.json"));
    }
    // A cap without a timeline is a mistake too.
    const CliResult r = mmusim({"run", "run.json", "--out", "out", "--timeline-events", "10"});
    EXPECT_TRUE(is_clean_error(r, dir.path(), {"--timeline-events 10", "add --timeline FILE"}));
    EXPECT_FALSE(fs::exists(dir / "out"));
}

TEST_F(CliTimeline, AFailedRunWritesNoTimeline) {
    // A system call that fails without allow_errors ends the run with an error.
    json config = mprotect_config();
    config["workload"]["script"]["ops"].push_back({{"op", "mprotect"}, {"region", "heap"}, {"prot", "r"}});
    write_json(dir / "run.json", config);
    const CliResult r = mmusim({"run", "run.json", "--out", "out", "--timeline", "t.json"});
    EXPECT_TRUE(is_clean_error(r, dir.path(), {"mprotect", "ENOMEM"}));
    EXPECT_FALSE(fs::exists(dir / "t.json"));
}

}  // namespace
}  // namespace mmusim::cli_test
