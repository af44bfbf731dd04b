// workload.layout "trace" through the real program, on small hand-written arm64 traces in the
// capture format: the exec mappings become the address space, the system calls run at their
// place (mmap of a file and of anonymous memory, brk, mprotect, munmap, a failed call), the
// kernel's reads and writes of user buffers fault like the program's own accesses and are
// counted apart, a stack access below [stack] grows it, and an access outside every mapping
// is an error naming the trace line, or is counted with on_segv "count". Bad input: a trace
// without @map lines, a layout "trace" without a trace, a call the model refuses.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/cli/cli_helpers.h"

namespace mmusim::cli_test {
namespace {

using nlohmann::json;

std::uint64_t u(const json& v) { return v.get<std::uint64_t>(); }

// A program at 0x5500000000, its stack, and then: an anonymous mmap of 64K, a file mmap of
// 8K, brk growing the heap by 128K, a read() of 100 bytes into the heap, an mprotect, a failed
// mmap, a munmap.
const char* kTrace =
    "@trace arm64 4096\n"
    "@map 5500000000 5500010000 r-xp 00000000 /usr/bin/prog\n"
    "@map 5500020000 5500022000 rw-p 00010000 /usr/bin/prog\n"
    "@map 5502000000 5502021000 rw-p 00000000 [stack]\n"
    "I  5500000000,4\n"
    " S 5502020ff0,8\n"
    "I  5500000004,4\n"
    "@sys mmap 0 10000 3 22 ffffffffffffffff 0 = 7f00000000\n"
    " S 7f00000000,8\n"
    " S 7f00008000,8\n"
    "I  5500000008,4\n"
    "@sys mmap 0 2000 1 2 3 0 = 7f00100000 /etc/data\n"
    " L 7f00100000,8\n"
    "I  550000000c,4\n"
    "@sys brk 0 0 0 0 0 0 = 5500100000\n"
    "I  5500000010,4\n"
    "@sys brk 5500120000 0 0 0 0 0 = 5500120000\n"
    "I  5500000014,4\n"
    "@sys read 0 5500100000 1000 0 0 0 = 64\n"
    " L 5500100000,8\n"
    "I  5500000018,4\n"
    "@sys mprotect 7f00000000 10000 1 0 0 0 = 0\n"
    " L 7f00000008,8\n"
    "I  550000001c,4\n"
    "@sys mmap 0 100000000000 3 22 ffffffffffffffff 0 = -12\n"
    "I  5500000020,4\n"
    "@sys munmap 7f00100000 2000 0 0 0 0 = 0\n"
    " S 5501fff000,8\n"  // below [stack]: the stack grows
    "I  5500000024,4\n"
    "@sys exit_group 0 0 0 0 0 0\n";

json run_trace(const ScratchDir& dir, const std::string& text, const std::vector<std::string>& sets = {}) {
    write_text(dir / "t.lackey", text);
    write_json(dir / "t.json", json{{"kernel", {{"mthp", {"64K"}}}},
                                    {"workload", {{"layout", "trace"}, {"trace", {{"path", "t.lackey"}, {"format", "lackey"}}}}}});
    std::vector<std::string> args = {"run", (dir / "t.json").string(), "--json", "--check"};
    for (const std::string& s : sets) {
        args.push_back("--set");
        args.push_back(s);
    }
    return run_stats(args, dir.path());
}

TEST(CliLayoutTrace, SystemCallsAndKernelAccessesRunAtTheirPlace) {
    ScratchDir dir;
    const json r = run_trace(dir, kTrace);
    const json& op = r["kernel"]["by_op"];
    EXPECT_EQ(u(op["mmap"]["calls"]), 3u);
    EXPECT_EQ(u(op["mmap"]["results"]["0"]), 2u);
    EXPECT_EQ(u(op["mmap"]["results"]["ENOMEM"]), 1u);  // failed in the trace: counted, not applied
    EXPECT_EQ(u(op["brk"]["calls"]), 2u);
    EXPECT_EQ(u(op["mprotect"]["calls"]), 1u);
    EXPECT_EQ(u(op["munmap"]["calls"]), 1u);
    const json& w = r["workload"];
    EXPECT_EQ(u(w["syscalls"]), 7u);
    EXPECT_EQ(u(w["syscall_errors"]), 1u);
    // read() writes 100 bytes into the heap: one store request by the kernel, which faults
    // the page in (so the program's load after it finds it mapped).
    EXPECT_EQ(u(w["kernel_user_accesses"]), 1u);
    EXPECT_EQ(u(w["segv"]), 0u);
    const json& h = r["kernel"]["faults"]["by_handler"];
    EXPECT_EQ(u(h["anon_folio_large"]), 2u);  // the 64K mmap (one folio) and the heap's first 64K
    EXPECT_GE(u(h["file_page"]), 2u);         // the program's code and /etc/data
    // The stores to the stack and below it (stack growth) fault order-0 or large folios; no
    // access was outside every mapping.
    EXPECT_GE(u(r["kernel"]["faults"]["total"]), 6u);
}

TEST(CliLayoutTrace, AnAccessOutsideEveryMappingNamesTheTraceLineOrIsCounted) {
    ScratchDir dir;
    const std::string bad = std::string(kTrace).insert(std::string(kTrace).find("@sys exit_group"), " L 6000000000,8\n");
    write_text(dir / "t.lackey", bad);
    write_json(dir / "t.json", json{{"workload", {{"layout", "trace"}, {"trace", {{"path", "t.lackey"}, {"format", "lackey"}}}}}});
    const CliResult r = run_mmusim({"run", (dir / "t.json").string(), "--out", (dir / "out").string()}, dir.path());
    EXPECT_TRUE(is_clean_error(r, dir / "out", {"t.lackey:30", "SIGSEGV", "0x6000000000", "outside every mapping"})) << r.err;
    const json counted = run_trace(dir, bad, {"workload.trace.on_segv=count"});
    EXPECT_EQ(u(counted["workload"]["segv"]), 1u);
}

TEST(CliLayoutTrace, BadInputIsACleanError) {
    ScratchDir dir;
    // A trace without @map lines (a valgrind trace, or an old capture).
    write_text(dir / "old.lackey", "I  5500000000,4\n L 5500000100,8\n");
    write_json(dir / "old.json", json{{"workload", {{"layout", "trace"}, {"trace", {{"path", "old.lackey"}, {"format", "lackey"}}}}}});
    CliResult r = run_mmusim({"run", (dir / "old.json").string(), "--out", (dir / "out").string()}, dir.path());
    EXPECT_TRUE(is_clean_error(r, dir / "out", {"old.lackey", "no @map lines", "capture.sh --arch arm64", "\"auto\""})) << r.err;
    // layout "trace" with a generator.
    write_json(dir / "gen.json", json{{"workload", {{"layout", "trace"}, {"generator", {{"pattern", "sequential"}, {"length", "1M"}, {"count", 10}}}}}});
    r = run_mmusim({"run", (dir / "gen.json").string(), "--out", (dir / "out").string()}, dir.path());
    EXPECT_TRUE(is_clean_error(r, dir / "out", {"workload.layout", "generator", "\"auto\""})) << r.err;
    // A call that succeeded in the trace but that the model refuses: an mmap (without
    // MAP_FIXED) over the program's own text.
    std::string clash = std::string(kTrace);
    clash.insert(clash.find("@sys exit_group"), "@sys mmap 5500000000 1000 3 22 ffffffffffffffff 0 = 5500000000\n");
    write_text(dir / "t.lackey", clash);
    write_json(dir / "t.json", json{{"workload", {{"layout", "trace"}, {"trace", {{"path", "t.lackey"}, {"format", "lackey"}}}}}});
    r = run_mmusim({"run", (dir / "t.json").string(), "--out", (dir / "out").string()}, dir.path());
    EXPECT_TRUE(is_clean_error(r, dir / "out", {"t.lackey:30", "succeeded in the trace", "EEXIST"})) << r.err;
}

TEST(CliLayoutTrace, LayoutAutoReplaysOnlyTheAccesses) {
    ScratchDir dir;
    write_text(dir / "t.lackey", kTrace);
    write_json(dir / "t.json", json{{"workload", {{"trace", {{"path", "t.lackey"}, {"format", "lackey"}}}}}});
    const json r = run_stats({"run", (dir / "t.json").string(), "--json"}, dir.path());
    EXPECT_EQ(u(r["workload"]["syscalls"]), 0u);
    EXPECT_EQ(u(r["workload"]["kernel_user_accesses"]), 0u);
    EXPECT_EQ(r["kernel"]["by_op"].contains("mmap"), false);
}

}  // namespace
}  // namespace mmusim::cli_test
