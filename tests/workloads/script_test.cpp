// Workload scripts: parsing, layout, the Syscalls of every op, loop expansion, access
// patterns, determinism, the errors a user meets, and the config integration.
#include "workloads/script.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sim/config.h"
#include "sim/config_error.h"
#include "sim/run.h"
#include "tests/sim/sim_test_util.h"
#include "workloads/limited_source.h"
#include "workloads/script_source.h"

namespace mmusim::workloads {
namespace {

using nlohmann::json;

Script parse(const json& doc) { return parse_script(doc); }

// The message of the ScriptError `doc` raises, or "" if it parses.
std::string error_of(const json& doc) {
    try {
        parse_script(doc);
    } catch (const ScriptError& e) {
        return e.what();
    }
    return "";
}

std::vector<Record> records_of(const json& doc, std::uint64_t seed = 1, std::size_t batch = 7, std::uint64_t limit = 0) {
    std::unique_ptr<Source> source = std::make_unique<ScriptSource>(std::make_shared<const Script>(parse(doc)), seed);
    if (limit != 0) source = std::make_unique<LimitedSource>(std::move(source), limit);
    std::vector<Record> records;
    std::vector<Record> buffer(batch);
    while (const std::size_t n = source->next(buffer.data(), batch))
        records.insert(records.end(), buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(n));
    return records;
}

bool same(const std::vector<Record>& a, const std::vector<Record>& b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (a[i].va != b[i].va || a[i].size != b[i].size || a[i].kind != b[i].kind || a[i].process != b[i].process) return false;
    return true;
}

// A script over one region "r" of `size` at a fixed address.
json one_region(const std::string& size, const json& ops) {
    return {{"regions", {{{"name", "r"}, {"size", size}, {"addr", "0x40000000"}}}}, {"ops", ops}};
}

std::vector<std::uint64_t> offsets(const std::vector<Record>& records) {
    std::vector<std::uint64_t> out;
    for (const Record& r : records) out.push_back(r.va - 0x40000000);
    return out;
}

// ---- layout ---------------------------------------------------------------------------

TEST(ScriptLayout, AutoAlignOffsetAndFixed) {
    const Script s = parse({{"regions",
                             {{{"name", "heap"}, {"size", "1M"}},
                              {{"name", "buf"}, {"size", "128K"}, {"align", "64K"}, {"offset", "4K"}},
                              {{"name", "fixed"}, {"size", "64K"}, {"addr", "0x20000000"}},
                              {{"name", "after"}, {"size", 5000}},
                              {{"name", "int"}, {"size", 4096}, {"addr", 0x30000000}}}},
                            {"ops", json::array()}});
    ASSERT_EQ(s.regions.size(), 5u);
    EXPECT_EQ(s.regions[0].addr, 0x10000000u);
    EXPECT_EQ(s.regions[0].size, 1u << 20);
    // 0x10100000 + 2M = 0x10300000, already 64K-aligned, + 4K.
    EXPECT_EQ(s.regions[1].addr, 0x10301000u);
    EXPECT_EQ(s.regions[2].addr, 0x20000000u);
    // After the fixed region: 0x20010000 + 2M, rounded up to 2M.
    EXPECT_EQ(s.regions[3].addr, 0x20400000u);
    EXPECT_EQ(s.regions[3].size, 5000u);
    EXPECT_EQ(s.regions[4].addr, 0x30000000u);
    EXPECT_FALSE(s.allow_errors);
    EXPECT_TRUE(s.ops.empty());
    EXPECT_EQ(s.processes, std::vector<std::string>{"main"});
}

TEST(ScriptLayout, AutoRegionAfterALowFixedOneStartsAtTheDefaultBase) {
    const Script s = parse({{"regions", {{{"name", "low"}, {"size", "4K"}, {"addr", "0x1000"}}, {{"name", "a"}, {"size", "4K"}}}},
                            {"ops", json::array()}});
    EXPECT_EQ(s.regions[1].addr, 0x10000000u);
}

TEST(ScriptLayout, Errors) {
    const std::string overlap = error_of({{"regions",
                                           {{{"name", "heap"}, {"size", "1M"}},
                                            {{"name", "fixed"}, {"size", "64K"}, {"addr", "0x100f0000"}}}},
                                          {"ops", json::array()}});
    EXPECT_NE(overlap.find("workload.script.regions[1]: \"fixed\" [0x100f0000, 0x10100000) overlaps \"heap\" [0x10000000, 0x10100000) "
                           "(workload.script.regions[0])"),
              std::string::npos)
        << overlap;
    // An auto region may also run into a later fixed one.
    EXPECT_NE(error_of({{"regions", {{{"name", "a"}, {"size", "4K"}}, {{"name", "b"}, {"size", "4K"}, {"addr", "0x10000000"}}}},
                        {"ops", json::array()}})
                  .find("regions[1]: \"b\""),
              std::string::npos);
    const std::string dup = error_of({{"regions", {{{"name", "a"}, {"size", "4K"}}, {{"name", "a"}, {"size", "4K"}}}}, {"ops", json::array()}});
    EXPECT_NE(dup.find("workload.script.regions[1].name: \"a\" is already the name of workload.script.regions[0]"), std::string::npos) << dup;
    EXPECT_NE(error_of({{"regions", {{{"name", ""}, {"size", "4K"}}}}, {"ops", json::array()}}).find("regions[0].name: is empty"),
              std::string::npos);
    EXPECT_NE(error_of({{"regions", {{{"name", "z"}, {"size", 0}}}}, {"ops", json::array()}}).find("regions[0].size: 0 is out of range"),
              std::string::npos);
    EXPECT_NE(error_of({{"regions", {{{"name", "z"}, {"size", "4K"}, {"addr", "0x0"}}}}, {"ops", json::array()}})
                  .find("does not lie in the user address space"),
              std::string::npos);
    EXPECT_NE(error_of({{"regions", {{{"name", "z"}, {"size", "8K"}, {"addr", "0xfffffffff000"}}}}, {"ops", json::array()}})
                  .find("regions[0]: \"z\" at [0xfffffffff000, 0x1000000001000) does not lie"),
              std::string::npos);
    EXPECT_NE(error_of({{"regions", {{{"name", "z"}, {"size", "4K"}, {"align", "3K"}}}}, {"ops", json::array()}})
                  .find("regions[0].align: \"3K\" is not a power-of-two size of at least 4K"),
              std::string::npos);
    EXPECT_NE(error_of({{"regions", {{{"name", "z"}, {"size", "4K"}, {"addr", "0x10000000"}, {"align", "4K"}}}}, {"ops", json::array()}})
                  .find("regions[0].align: applies to auto-placed regions only"),
              std::string::npos);
    EXPECT_NE(error_of({{"regions", {{{"name", "z"}, {"size", "4K"}, {"addr", "10000000"}}}}, {"ops", json::array()}})
                  .find("regions[0].addr: \"10000000\" is not an address"),
              std::string::npos);
    const std::string key = error_of({{"regions", {{{"name", "z"}, {"sise", "4K"}}}}, {"ops", json::array()}});
    EXPECT_NE(key.find("unknown key \"workload.script.regions[0].sise\"; did you mean \"workload.script.regions[0].size\"?"),
              std::string::npos)
        << key;
    EXPECT_NE(error_of({{"regions", json::array()}}).find("workload.script.ops: is required"), std::string::npos);
    EXPECT_NE(error_of(json::array()).find("workload.script: found [] (a list); expected an object"), std::string::npos);
    EXPECT_NE(error_of({{"ops", json::array()}, {"allow_error", true}}).find("did you mean \"workload.script.allow_errors\""),
              std::string::npos);
    EXPECT_NE(error_of({{"ops", json::array()}, {"allow_errors", "yes"}}).find("workload.script.allow_errors: found \"yes\" (a string); "
                                                                                 "expected true or false"),
              std::string::npos);
}

// ---- the Syscall of every op ----------------------------------------------------------

TEST(ScriptOps, EveryKernelOpFillsItsSyscall) {
    const json doc = {
        {"allow_errors", true},
        {"regions", {{{"name", "heap"}, {"size", "1M"}}, {{"name", "dev"}, {"size", "4M"}, {"addr", "0x40000000"}}}},
        {"ops",
         {{{"op", "mmap"}, {"region", "heap"}},
          {{"op", "mmap"}, {"region", "heap"}, {"offset", "64K"}, {"size", "4K"}, {"prot", "rx"}, {"shared", true}},
          {{"op", "mmap"}, {"region", "heap"}, {"type", "file"}, {"file", "data"}, {"file_offset", "8K"}, {"file_folio", "64K"}},
          {{"op", "mmap"}, {"region", "heap"}, {"type", "file"}, {"file", "other"}, {"prot", "none"}},
          {{"op", "mmap"}, {"region", "heap"}, {"type", "file"}, {"file", "data"}},
          {{"op", "mmap"}, {"region", "dev"}, {"type", "pfnmap"}, {"pfn_offset", "1M"}, {"shared", true}},
          {{"op", "mmap"}, {"region", "dev"}, {"type", "huge_pfnmap"}},
          {{"op", "munmap"}, {"region", "heap"}, {"offset", 100}, {"size", 3}},
          {{"op", "mprotect"}, {"region", "heap"}, {"prot", "wr"}},
          {{"op", "madvise"}, {"region", "heap"}, {"advice", "free"}},
          {{"op", "madvise"}, {"region", "heap"}, {"advice", "nohugepage"}},
          {{"op", "uffd_register"}, {"region", "heap"}, {"mode", {"missing"}}},
          {{"op", "uffd_register"}, {"region", "heap"}, {"mode", {"wp", "missing"}}, {"async", true}, {"wp_unpopulated", true}},
          {{"op", "uffd_unregister"}, {"region", "heap"}},
          {{"op", "uffd_wp"}, {"region", "heap"}},
          {{"op", "uffd_wp"}, {"region", "heap"}, {"protect", false}},
          {{"op", "reclaim"}, {"region", "heap"}, {"size", "64K"}},
          {{"op", "fork"}, {"child", "kid"}},
          {{"op", "fork"}, {"process", "kid"}, {"child", "grandkid"}},
          {{"op", "exit"}, {"process", "grandkid"}},
          {{"op", "kernel_map"}, {"pages", 16}},
          {{"op", "kernel_map"}, {"pages", 1}, {"interrupt", true}, {"process", "kid"}},
          {{"op", "mprotect"}, {"process", "kid"}, {"region", "heap"}, {"prot", "r"}}}}};
    const Script s = parse(doc);
    EXPECT_TRUE(s.allow_errors);
    ASSERT_EQ(s.syscalls.size(), 23u);
    EXPECT_EQ(s.processes, (std::vector<std::string>{"main", "kid", "grandkid"}));
    EXPECT_EQ(s.files, (std::vector<std::string>{"data", "other"}));
    using kernel::SyscallOp;
    const auto& c = s.syscalls;
    for (std::size_t i = 0; i < c.size(); ++i) EXPECT_EQ(c[i].origin, "workload.script.ops[" + std::to_string(i) + "]");

    EXPECT_EQ(c[0].op, SyscallOp::Mmap);
    EXPECT_EQ(c[0].kind, kernel::MapKind::Anon);
    EXPECT_EQ(c[0].addr, 0x10000000u);
    EXPECT_EQ(c[0].len, 1u << 20);
    EXPECT_EQ(c[0].prot, kernel::kProtRead | kernel::kProtWrite);
    EXPECT_FALSE(c[0].shared);
    EXPECT_EQ(c[0].process, 0u);

    EXPECT_EQ(c[1].addr, 0x10010000u);
    EXPECT_EQ(c[1].len, 4096u);
    EXPECT_EQ(c[1].prot, kernel::kProtRead | kernel::kProtExec);
    EXPECT_TRUE(c[1].shared);

    EXPECT_EQ(c[2].kind, kernel::MapKind::File);
    EXPECT_EQ(c[2].file, 0u);
    EXPECT_EQ(c[2].file_offset, 8192u);
    EXPECT_EQ(c[2].file_folio, 65536u);
    EXPECT_EQ(c[3].file, 1u);
    EXPECT_EQ(c[3].prot, 0u);
    EXPECT_EQ(c[3].file_folio, 0u);
    EXPECT_EQ(c[4].file, 0u);

    EXPECT_EQ(c[5].kind, kernel::MapKind::Pfnmap);
    EXPECT_EQ(c[5].addr, 0x40000000u);
    EXPECT_EQ(c[5].pfn_offset, 1u << 20);
    EXPECT_TRUE(c[5].shared);
    EXPECT_EQ(c[6].kind, kernel::MapKind::HugePfnmap);
    EXPECT_EQ(c[6].pfn_offset, 0u);

    // Misaligned ranges reach the kernel as given.
    EXPECT_EQ(c[7].op, SyscallOp::Munmap);
    EXPECT_EQ(c[7].addr, 0x10000000u + 100);
    EXPECT_EQ(c[7].len, 3u);

    EXPECT_EQ(c[8].op, SyscallOp::Mprotect);
    EXPECT_EQ(c[8].prot, kernel::kProtRead | kernel::kProtWrite);
    EXPECT_EQ(c[9].op, SyscallOp::Madvise);
    EXPECT_EQ(c[9].advice, kernel::Advice::Free);
    EXPECT_EQ(c[10].advice, kernel::Advice::NoHugePage);

    EXPECT_EQ(c[11].op, SyscallOp::UffdRegister);
    EXPECT_TRUE(c[11].uffd_missing);
    EXPECT_FALSE(c[11].uffd_wp);
    EXPECT_FALSE(c[11].uffd_async);
    EXPECT_TRUE(c[12].uffd_missing);
    EXPECT_TRUE(c[12].uffd_wp);
    EXPECT_TRUE(c[12].uffd_async);
    EXPECT_TRUE(c[12].uffd_wp_unpopulated);
    EXPECT_EQ(c[13].op, SyscallOp::UffdUnregister);
    EXPECT_EQ(c[14].op, SyscallOp::UffdWriteprotect);
    EXPECT_TRUE(c[14].protect);
    EXPECT_FALSE(c[15].protect);
    EXPECT_EQ(c[16].op, SyscallOp::Reclaim);
    EXPECT_EQ(c[16].len, 65536u);

    EXPECT_EQ(c[17].op, SyscallOp::Fork);
    EXPECT_EQ(c[17].process, 0u);
    EXPECT_EQ(c[17].child, 1u);
    EXPECT_EQ(c[18].process, 1u);
    EXPECT_EQ(c[18].child, 2u);
    EXPECT_EQ(c[19].op, SyscallOp::Exit);
    EXPECT_EQ(c[19].process, 2u);

    EXPECT_EQ(c[20].op, SyscallOp::KernelMap);
    EXPECT_EQ(c[20].pages, 16u);
    EXPECT_FALSE(c[20].in_interrupt);
    EXPECT_TRUE(c[21].in_interrupt);
    EXPECT_EQ(c[21].process, 1u);
    EXPECT_EQ(c[22].process, 1u);

    // One Kernel record per op, va = index, process = caller (the exiting one for exit).
    const std::vector<Record> r = records_of(doc);
    ASSERT_EQ(r.size(), 23u);
    for (std::size_t i = 0; i < r.size(); ++i) {
        EXPECT_EQ(r[i].kind, AccessKind::Kernel);
        EXPECT_EQ(r[i].va, i);
        EXPECT_EQ(r[i].size, 0u);
        EXPECT_EQ(r[i].process, c[i].process);
    }
    EXPECT_EQ(r[19].process, 2u);
}

TEST(ScriptOps, MigrateIsARangeOpOfPageMigration) {
    const Script s = parse(one_region("1M", {{{"op", "mmap"}, {"region", "r"}},
                                              {{"op", "migrate"}, {"region", "r"}, {"offset", "64K"}, {"size", "128K"}},
                                              {{"op", "migrate"}, {"region", "r"}}}));
    ASSERT_EQ(s.syscalls.size(), 3u);
    EXPECT_EQ(s.syscalls[1].op, kernel::SyscallOp::Migrate);
    EXPECT_EQ(s.syscalls[1].addr, 0x40010000u);
    EXPECT_EQ(s.syscalls[1].len, 128u * 1024);
    EXPECT_EQ(s.syscalls[2].len, 1u << 20);  // the rest of the region
    EXPECT_EQ(kernel::op_name(s.syscalls[1]), "migrate");
    // It takes the range keys only.
    const std::string e = error_of(one_region("1M", {{{"op", "mmap"}, {"region", "r"}},
                                                     {{"op", "migrate"}, {"region", "r"}, {"prot", "r"}}}));
    EXPECT_NE(e.find("workload.script.ops[1].prot"), std::string::npos) << e;
}

TEST(ScriptOps, ForkAgainAfterExitKeepsTheId) {
    const json doc = one_region("4K", {{{"op", "fork"}, {"child", "c"}},
                                       {{"op", "access"}, {"process", "c"}, {"region", "r"}, {"count", 1}},
                                       {{"op", "exit"}, {"process", "c"}},
                                       {{"op", "fork"}, {"child", "c"}},
                                       {{"op", "fork"}, {"child", "d"}},
                                       {{"op", "loop"}, {"count", 3}, {"ops", {{{"op", "fork"}, {"process", "d"}, {"child", "e"}},
                                                                               {{"op", "exit"}, {"process", "e"}}}}}});
    const Script s = parse(doc);
    EXPECT_EQ(s.processes, (std::vector<std::string>{"main", "c", "d", "e"}));
    EXPECT_EQ(s.syscalls[2].child, 1u);
    EXPECT_EQ(s.syscalls[3].child, 2u);
    const std::vector<Record> r = records_of(doc);
    ASSERT_EQ(r.size(), 11u);
    EXPECT_EQ(r[1].kind, AccessKind::Load);
    EXPECT_EQ(r[1].process, 1u);
    EXPECT_EQ(r[5].process, 2u);  // d forks e
}

// ---- loops ----------------------------------------------------------------------------

TEST(ScriptLoops, ExpansionOrderNestingAndCountZero) {
    const json doc = {{"ops",
                       {{{"op", "kernel_map"}, {"pages", 1}},  // 0
                        {{"op", "loop"},
                         {"count", 2},
                         {"ops",
                          {{{"op", "kernel_map"}, {"pages", 2}},  // 1
                           {{"op", "loop"}, {"count", 3}, {"ops", {{{"op", "kernel_map"}, {"pages", 3}}}}},  // 2
                           {{"op", "loop"}, {"count", 0}, {"ops", {{{"op", "kernel_map"}, {"pages", 4}}}}},  // 3
                           {{"op", "loop"}, {"count", 5}, {"ops", json::array()}}}}},
                        {{"op", "kernel_map"}, {"pages", 5}}}}};  // 4
    const Script s = parse(doc);
    EXPECT_EQ(s.syscalls[2].origin, "workload.script.ops[1].ops[1].ops[0]");
    EXPECT_EQ(s.syscalls[3].origin, "workload.script.ops[1].ops[2].ops[0]");
    for (const std::size_t batch : {1u, 2u, 3u, 100u}) {
        std::vector<std::uint64_t> order;
        for (const Record& r : records_of(doc, 1, batch)) order.push_back(r.va);
        EXPECT_EQ(order, (std::vector<std::uint64_t>{0, 1, 2, 2, 2, 1, 2, 2, 2, 4})) << "batch " << batch;
    }
}

TEST(ScriptLoops, EmptyAndHugeLoops) {
    EXPECT_TRUE(records_of({{"ops", json::array()}}).empty());
    // Nothing to yield, whatever the counts: the source ends at once.
    const json nothing = {{"ops", {{{"op", "loop"}, {"count", 1000000000000000000}, {"ops", {{{"op", "loop"}, {"count", 1000000000000000000},
                                                                                             {"ops", json::array()}}}}}}}};
    EXPECT_TRUE(records_of(nothing).empty());
    // 10^18 passes are expanded lazily: the first batches come at once.
    const json huge = {{"ops", {{{"op", "loop"}, {"count", 1000000000000000000}, {"ops", {{{"op", "kernel_map"}, {"pages", 1}}}}}}}};
    ScriptSource source(std::make_shared<const Script>(parse(huge)), 1);
    std::vector<Record> buffer(4096);
    for (int i = 0; i < 10; ++i) EXPECT_EQ(source.next(buffer.data(), buffer.size()), buffer.size());
    // The limit (workload.max_records) ends it.
    EXPECT_EQ(records_of(huge, 1, 7, 100).size(), 100u);
}

TEST(ScriptLoops, DepthLimit) {
    json body = {{{"op", "kernel_map"}, {"pages", 1}}};
    for (unsigned i = 0; i < kScriptMaxLoopDepth; ++i) body = {{{"op", "loop"}, {"count", 2}, {"ops", body}}};
    EXPECT_EQ(records_of({{"ops", body}}).size(), 1u << kScriptMaxLoopDepth);
    body = {{{"op", "loop"}, {"count", 1}, {"ops", body}}};
    const std::string e = error_of({{"ops", body}});
    std::string path = "workload.script.ops[0]";
    for (unsigned i = 0; i < kScriptMaxLoopDepth; ++i) path += ".ops[0]";
    EXPECT_NE(e.find(path + ": loops nest more than 16 deep"), std::string::npos) << e;
}

// ---- access patterns ------------------------------------------------------------------

TEST(ScriptAccesses, SequentialWrapsAndDefaults) {
    std::vector<Record> r = records_of(one_region("64", {{{"op", "access"}, {"region", "r"}, {"count", 10}}}));
    EXPECT_EQ(offsets(r), (std::vector<std::uint64_t>{0, 8, 16, 24, 32, 40, 48, 56, 0, 8}));
    for (const Record& x : r) {
        EXPECT_EQ(x.kind, AccessKind::Load);
        EXPECT_EQ(x.size, 8u);
        EXPECT_EQ(x.process, 0u);
    }
    // Default count: the range once; a size that is not a multiple of access_size.
    r = records_of(one_region("20", {{{"op", "access"}, {"region", "r"}}}));
    EXPECT_EQ(offsets(r), (std::vector<std::uint64_t>{0, 8, 0}));
    // A stride, over a part of the region.
    r = records_of(one_region("1M", {{{"op", "access"}, {"region", "r"}, {"offset", "64K"}, {"size", "16K"}, {"stride", "4K"},
                                      {"access_size", 16}, {"mix", "store"}}}));
    EXPECT_EQ(offsets(r), (std::vector<std::uint64_t>{0x10000, 0x11000, 0x12000, 0x13000}));
    for (const Record& x : r) {
        EXPECT_EQ(x.kind, AccessKind::Store);
        EXPECT_EQ(x.size, 16u);
    }
}

TEST(ScriptAccesses, Strided) {
    std::vector<Record> r =
        records_of(one_region("64", {{{"op", "access"}, {"region", "r"}, {"pattern", "strided"}, {"stride", 24}, {"count", 9}}}));
    EXPECT_EQ(offsets(r), (std::vector<std::uint64_t>{0, 24, 48, 8, 32, 56, 16, 40, 0}));
    // A stride that is not a multiple of access_size: rounded down to an aligned slot.
    r = records_of(one_region("64", {{{"op", "access"}, {"region", "r"}, {"pattern", "strided"}, {"stride", 12}, {"count", 7}}}));
    EXPECT_EQ(offsets(r), (std::vector<std::uint64_t>{0, 8, 24, 32, 48, 56, 8}));
    // Default count: ceil(size / stride).
    r = records_of(one_region("64", {{{"op", "access"}, {"region", "r"}, {"pattern", "strided"}, {"stride", 24}}}));
    EXPECT_EQ(r.size(), 3u);
}

TEST(ScriptAccesses, RandomStaysInsideTheRangeAligned) {
    const json doc = one_region("1M", {{{"op", "access"}, {"region", "r"}, {"offset", "4K"}, {"size", "100"}, {"pattern", "random"},
                                        {"access_size", 16}, {"count", 5000}, {"mix", "ifetch"}}});
    const std::vector<Record> r = records_of(doc);
    ASSERT_EQ(r.size(), 5000u);
    std::map<std::uint64_t, int> seen;
    for (const Record& x : r) {
        const std::uint64_t off = x.va - 0x40001000;
        EXPECT_LT(off + 16, 101u);
        EXPECT_EQ(off % 16, 0u);
        EXPECT_EQ(x.kind, AccessKind::Ifetch);
        ++seen[off];
    }
    EXPECT_EQ(seen.size(), 6u);  // 100 bytes hold six 16-byte slots
}

TEST(ScriptAccesses, MixFractionsAreHonoured) {
    const json doc = one_region("1M", {{{"op", "access"}, {"region", "r"}, {"count", 100000},
                                        {"mix", {{"load", 7}, {"store", 2}, {"ifetch", 1}}}}});
    std::map<AccessKind, int> counts;
    for (const Record& x : records_of(doc, 5, 4096)) ++counts[x.kind];
    EXPECT_NEAR(counts[AccessKind::Load], 70000, 1000);
    EXPECT_NEAR(counts[AccessKind::Store], 20000, 1000);
    EXPECT_NEAR(counts[AccessKind::Ifetch], 10000, 1000);
    // A kind with fraction 0 never appears; one kind with a fraction is that kind.
    counts.clear();
    for (const Record& x : records_of(one_region("1M", {{{"op", "access"}, {"region", "r"}, {"count", 20000},
                                                         {"mix", {{"load", 0.5}, {"store", 0.5}, {"ifetch", 0}}}}})))
        ++counts[x.kind];
    EXPECT_EQ(counts.count(AccessKind::Ifetch), 0u);
    EXPECT_NEAR(counts[AccessKind::Store], 10000, 500);
    for (const Record& x : records_of(one_region("1M", {{{"op", "access"}, {"region", "r"}, {"count", 100}, {"mix", {{"store", 0.3}}}}})))
        EXPECT_EQ(x.kind, AccessKind::Store);
}

TEST(ScriptAccesses, DeterministicFromTheSeed) {
    const json doc = {{"regions", {{{"name", "a"}, {"size", "16M"}}, {{"name", "b"}, {"size", "1M"}}}},
                      {"ops",
                       {{{"op", "mmap"}, {"region", "a"}},
                        {{"op", "loop"}, {"count", 3}, {"ops", {{{"op", "access"}, {"region", "a"}, {"pattern", "random"}, {"count", 1000},
                                                                 {"mix", {{"load", 0.6}, {"store", 0.4}}}},
                                                                {{"op", "access"}, {"region", "b"}, {"stride", "4K"}}}}}}}};
    const std::vector<Record> a = records_of(doc, 7, 13);
    EXPECT_EQ(a.size(), 1u + 3 * (1000 + 256));
    EXPECT_TRUE(same(a, records_of(doc, 7, 4096)));
    const std::vector<Record> b = records_of(doc, 8, 13);
    ASSERT_EQ(a.size(), b.size());
    int differ = 0;
    for (std::size_t i = 1; i < 1001; ++i) differ += a[i].va != b[i].va;
    EXPECT_GT(differ, 900);
}

// ---- errors ---------------------------------------------------------------------------

struct BadScript {
    const char* what;
    json ops;
    std::vector<std::string> needles;
};

TEST(ScriptErrors, NameTheKeyPathWhatWasFoundAndWhatIsAllowed) {
    const json regions = {{{"name", "heap"}, {"size", "1M"}}, {{"name", "buf"}, {"size", "128K"}}};
    const std::vector<BadScript> cases = {
        {"unknown op", {{{"op", "mmapp"}, {"region", "heap"}}},
         {"workload.script.ops[0].op: \"mmapp\" is not an operation; did you mean \"mmap\"? Allowed: mmap, munmap"}},
        {"no op", {{{"region", "heap"}}}, {"workload.script.ops[0].op: is required"}},
        {"op not an object", {"mmap"}, {"workload.script.ops[0]: found \"mmap\" (a string); expected an operation"}},
        {"unknown key", {{{"op", "munmap"}, {"regoin", "heap"}}},
         {"unknown key \"workload.script.ops[0].regoin\"; did you mean \"workload.script.ops[0].region\"? Keys allowed in "
          "workload.script.ops[0] (op munmap): op, process, region, offset, size."}},
        {"undeclared region", {{{"op", "loop"}, {"count", 1}, {"ops", {{{"op", "munmap"}, {"region", "hepa"}}}}}},
         {"workload.script.ops[0].ops[0].region: \"hepa\" is not a declared region; did you mean \"heap\"? Declared: heap, buf"}},
        {"undeclared region, far", {{{"op", "munmap"}, {"region", "stack"}}},
         {"workload.script.ops[0].region: \"stack\" is not a declared region; declared: heap, buf"}},
        {"no region", {{{"op", "munmap"}}}, {"workload.script.ops[0].region: is required", "declared: heap, buf"}},
        {"offset past the region", {{{"op", "munmap"}, {"region", "buf"}, {"offset", "256K"}}},
         {"workload.script.ops[0].offset: 256K is past the end of region \"buf\" (128K bytes)"}},
        {"offset + size past the region", {{{"op", "munmap"}, {"region", "buf"}, {"offset", "64K"}, {"size", "128K"}}},
         {"workload.script.ops[0].size: offset 64K + size 128K passes the end of region \"buf\" (128K bytes); allowed: at most 64K"}},
        {"undeclared process", {{{"op", "fork"}, {"child", "child"}}, {{"op", "munmap"}, {"process", "chld"}, {"region", "heap"}}},
         {"workload.script.ops[1].process: \"chld\" is not a process; did you mean \"child\"? Processes so far: main, child"}},
        {"process used before its fork", {{{"op", "munmap"}, {"process", "child"}, {"region", "heap"}}, {{"op", "fork"}, {"child", "child"}}},
         {"workload.script.ops[0].process: \"child\" is not a process; processes so far: main"}},
        {"exit main", {{{"op", "exit"}, {"process", "main"}}},
         {"workload.script.ops[0].process: \"main\" cannot exit: the run ends when the script ends"}},
        {"exit without process", {{{"op", "exit"}}}, {"workload.script.ops[0].process: is required"}},
        {"used after exit", {{{"op", "fork"}, {"child", "c"}}, {{"op", "exit"}, {"process", "c"}}, {{"op", "munmap"}, {"process", "c"}, {"region", "heap"}}},
         {"workload.script.ops[2].process: \"c\" has exited (at workload.script.ops[1])"}},
        {"forked twice", {{{"op", "fork"}, {"child", "c"}}, {{"op", "fork"}, {"child", "c"}}},
         {"workload.script.ops[1].child: \"c\" is still running (forked at workload.script.ops[0]); a child name may be forked again only after its exit"}},
        {"forked twice by a loop", {{{"op", "loop"}, {"count", 2}, {"ops", {{{"op", "fork"}, {"child", "c"}}}}}},
         {"workload.script.ops[0].ops[0].child: \"c\" is still running", "on the second pass through the loop at workload.script.ops[0]"}},
        {"exit in a loop, no fork", {{{"op", "fork"}, {"child", "c"}}, {{"op", "loop"}, {"count", 2}, {"ops", {{{"op", "exit"}, {"process", "c"}}}}}},
         {"workload.script.ops[1].ops[0].process: \"c\" has exited (at workload.script.ops[1].ops[0])", "second pass"}},
        {"fork in a loop of count 0", {{{"op", "loop"}, {"count", 0}, {"ops", {{{"op", "fork"}, {"child", "c"}}}}}, {{"op", "exit"}, {"process", "c"}}},
         {"workload.script.ops[1].process: \"c\" is not running here: no fork of it runs before this op"}},
        {"child named main", {{{"op", "fork"}, {"child", "main"}}}, {"workload.script.ops[0].child: \"main\" is the first process"}},
        {"bad prot", {{{"op", "mprotect"}, {"region", "heap"}, {"prot", "rwz"}}},
         {"workload.script.ops[0].prot: \"rwz\" is not a protection; expected letters from \"rwx\""}},
        {"repeated prot letter", {{{"op", "mmap"}, {"region", "heap"}, {"prot", "rr"}}}, {"ops[0].prot: \"rr\" is not a protection"}},
        {"mprotect without prot", {{{"op", "mprotect"}, {"region", "heap"}}}, {"workload.script.ops[0].prot: is required"}},
        {"bad advice", {{{"op", "madvise"}, {"region", "heap"}, {"advice", "dontned"}}},
         {"workload.script.ops[0].advice: \"dontned\" is not allowed; did you mean \"dontneed\"? Allowed: dontneed, free"}},
        {"bad mode", {{{"op", "uffd_register"}, {"region", "heap"}, {"mode", {"missing", "minor"}}}},
         {"workload.script.ops[0].mode[1]: \"minor\" is not allowed; allowed: missing, wp"}},
        {"mode not a list", {{{"op", "uffd_register"}, {"region", "heap"}, {"mode", "wp"}}},
         {"workload.script.ops[0].mode: found \"wp\" (a string); expected a list of modes"}},
        {"empty mode", {{{"op", "uffd_register"}, {"region", "heap"}, {"mode", json::array()}}}, {"workload.script.ops[0].mode: is empty"}},
        {"repeated mode", {{{"op", "uffd_register"}, {"region", "heap"}, {"mode", {"wp", "wp"}}}}, {"ops[0].mode[1]: \"wp\" is given twice"}},
        {"async without wp", {{{"op", "uffd_register"}, {"region", "heap"}, {"mode", {"missing"}}, {"async", true}}},
         {"workload.script.ops[0].async: true needs \"wp\" in mode"}},
        {"wp_unpopulated without wp", {{{"op", "uffd_register"}, {"region", "heap"}, {"mode", {"missing"}}, {"wp_unpopulated", true}}},
         {"workload.script.ops[0].wp_unpopulated: true needs \"wp\" in mode"}},
        {"file keys on anon mmap", {{{"op", "mmap"}, {"region", "heap"}, {"file", "data"}}},
         {"workload.script.ops[0].file: only an mmap of type \"file\" takes \"file\"; this mmap is of type \"anon\" (the default)"}},
        {"pfn key on file mmap", {{{"op", "mmap"}, {"region", "heap"}, {"type", "file"}, {"file", "f"}, {"pfn_offset", 0}}},
         {"workload.script.ops[0].pfn_offset: only an mmap of type \"pfnmap\" or \"huge_pfnmap\" takes \"pfn_offset\"; this mmap is of type \"file\""}},
        {"file mmap without file", {{{"op", "mmap"}, {"region", "heap"}, {"type", "file"}}}, {"workload.script.ops[0].file: is required"}},
        {"bad mmap type", {{{"op", "mmap"}, {"region", "heap"}, {"type", "anonymous"}}},
         {"workload.script.ops[0].type: \"anonymous\" is not allowed; allowed: anon, file, pfnmap, huge_pfnmap"}},
        {"bad file folio", {{{"op", "mmap"}, {"region", "heap"}, {"type", "file"}, {"file", "f"}, {"file_folio", "12K"}}},
         {"workload.script.ops[0].file_folio: \"12K\" is not a folio size"}},
        {"bad size", {{{"op", "munmap"}, {"region", "heap"}, {"size", "1X"}}}, {"workload.script.ops[0].size: \"1X\" is not a size name"}},
        {"negative size", {{{"op", "munmap"}, {"region", "heap"}, {"size", -1}}}, {"workload.script.ops[0].size: -1 is negative"}},
        {"wrong type", {{{"op", "uffd_wp"}, {"region", "heap"}, {"protect", "yes"}}},
         {"workload.script.ops[0].protect: found \"yes\" (a string); expected true or false"}},
        {"kernel_map without pages", {{{"op", "kernel_map"}}}, {"workload.script.ops[0].pages: is required"}},
        {"kernel_map with 0 pages", {{{"op", "kernel_map"}, {"pages", 0}}}, {"workload.script.ops[0].pages: 0 is out of range; allowed: 1 to"}},
        {"loop without count", {{{"op", "loop"}, {"ops", json::array()}}}, {"workload.script.ops[0].count: is required"}},
        {"loop count negative", {{{"op", "loop"}, {"count", -1}, {"ops", json::array()}}}, {"workload.script.ops[0].count: -1 is out of range"}},
        {"loop with process", {{{"op", "loop"}, {"count", 1}, {"process", "main"}, {"ops", json::array()}}},
         {"workload.script.ops[0].process: a loop takes no process"}},
        {"loop with a bad key", {{{"op", "loop"}, {"count", 1}, {"cuont", 2}, {"ops", json::array()}}},
         {"unknown key \"workload.script.ops[0].cuont\"; did you mean \"workload.script.ops[0].count\"? Keys allowed in "
          "workload.script.ops[0] (op loop): op, count, ops."}},
        {"ops not a list", {{{"op", "loop"}, {"count", 1}, {"ops", {{"op", "mmap"}}}}}, {"workload.script.ops[0].ops: found"}},
        {"strided without stride", {{{"op", "access"}, {"region", "heap"}, {"pattern", "strided"}}},
         {"workload.script.ops[0].stride: is required for a strided pattern"}},
        {"random without count", {{{"op", "access"}, {"region", "heap"}, {"pattern", "random"}}},
         {"workload.script.ops[0].count: is required for a random pattern"}},
        {"random with stride", {{{"op", "access"}, {"region", "heap"}, {"pattern", "random"}, {"count", 1}, {"stride", 8}}},
         {"workload.script.ops[0].stride: a random pattern takes no stride"}},
        {"access too large", {{{"op", "access"}, {"region", "heap"}, {"access_size", 8192}}},
         {"workload.script.ops[0].access_size: 8192 is out of range; allowed: 1 to 4096"}},
        {"access larger than the range", {{{"op", "access"}, {"region", "heap"}, {"size", 4}}},
         {"workload.script.ops[0].access_size: 8 bytes do not fit in the range of 4 bytes"}},
        {"bad mix name", {{{"op", "access"}, {"region", "heap"}, {"mix", "loads"}}},
         {"workload.script.ops[0].mix: \"loads\" is not allowed; did you mean \"load\"? Allowed: load, store, ifetch"}},
        {"bad mix key", {{{"op", "access"}, {"region", "heap"}, {"mix", {{"stores", 1}}}}},
         {"unknown key \"workload.script.ops[0].mix.stores\"; did you mean \"workload.script.ops[0].mix.store\"?"}},
        {"negative mix", {{{"op", "access"}, {"region", "heap"}, {"mix", {{"store", -1}}}}}, {"workload.script.ops[0].mix.store: -1 is out of range"}},
        {"zero mix", {{{"op", "access"}, {"region", "heap"}, {"mix", {{"store", 0}}}}}, {"workload.script.ops[0].mix: the fractions sum to 0"}},
    };
    for (const BadScript& c : cases) {
        const std::string e = error_of({{"regions", regions}, {"ops", c.ops}});
        EXPECT_NE(e, "") << c.what;
        for (const std::string& needle : c.needles) EXPECT_NE(e.find(needle), std::string::npos) << c.what << ":\n" << e;
    }
}

TEST(ScriptErrors, TooManyProcesses) {
    json ops = json::array();
    for (unsigned i = 1; i < kScriptMaxProcesses; ++i) {
        std::string name = "p";
        name += std::to_string(i);
        ops.push_back({{"op", "fork"}, {"child", name}});
    }
    EXPECT_EQ(error_of({{"ops", ops}}), "");
    ops.push_back({{"op", "fork"}, {"child", "one-too-many"}});
    const std::string e = error_of({{"ops", ops}});
    EXPECT_NE(e.find("workload.script.ops[254].child: \"one-too-many\" would be process 256; allowed: at most 255 processes"),
              std::string::npos)
        << e;
}

// ---- config integration ---------------------------------------------------------------

json script_config() {
    const json ops = {{{"op", "mmap"}, {"region", "heap"}}, {{"op", "access"}, {"region", "heap"}, {"stride", "4K"}}};
    const json script = {{"regions", {{{"name", "heap"}, {"size", "1M"}}}}, {"ops", ops}};
    return {{"workload", {{"script", script}}}, {"seed", 3}};
}

TEST(ScriptConfig, LoadsOpensAndHonoursSetAndMaxRecords) {
    const sim::testing::TempDir dir;
    const std::string path = dir.file("run.json", script_config().dump());
    sim::RunConfig rc = sim::load_config(path, {});
    ASSERT_TRUE(rc.workload.is_script);
    EXPECT_FALSE(rc.workload.is_trace);
    ASSERT_NE(rc.workload.script, nullptr);
    EXPECT_FALSE(rc.workload.script->allow_errors);
    EXPECT_EQ(rc.resolved["workload"]["script"]["allow_errors"], false);
    auto source = sim::open_workload(rc);
    std::vector<Record> batch(1000);
    EXPECT_EQ(source->next(batch.data(), batch.size()), 257u);
    EXPECT_EQ(batch[0].kind, AccessKind::Kernel);
    ASSERT_NE(source->syscall(batch[0].va), nullptr);
    EXPECT_EQ(source->syscall(batch[0].va)->op, kernel::SyscallOp::Mmap);
    EXPECT_EQ(source->syscall(batch[0].va)->origin, "workload.script.ops[0]");
    EXPECT_EQ(source->syscall(1), nullptr);

    rc = sim::load_config(path, {sim::parse_override("workload.script.allow_errors=true"), sim::parse_override("workload.max_records=10")});
    EXPECT_TRUE(rc.workload.script->allow_errors);
    source = sim::open_workload(rc);
    EXPECT_EQ(source->next(batch.data(), batch.size()), 10u);
    EXPECT_EQ(source->next(batch.data(), batch.size()), 0u);
    // The limited stream still answers syscall() for its Kernel records.
    EXPECT_NE(source->syscall(batch[0].va), nullptr);
}

TEST(ScriptConfig, ErrorsNameTheFileAndKeyPath) {
    const sim::testing::TempDir dir;
    json config = script_config();
    config["workload"]["script"]["ops"][1]["region"] = "hepa";
    const std::string path = dir.file("run.json", config.dump());
    try {
        sim::load_config(path, {});
        FAIL() << "no error";
    } catch (const sim::ConfigError& e) {
        EXPECT_EQ(std::string(e.what()), path + ": workload.script.ops[1].region: \"hepa\" is not a declared region; did you mean "
                                                "\"heap\"? Declared: heap");
    }
    try {
        sim::load_config(dir.file("ok.json", script_config().dump()), {sim::parse_override("workload.script.allow_errors=maybe")});
        FAIL() << "no error";
    } catch (const sim::ConfigError& e) {
        EXPECT_NE(std::string(e.what()).find("(with --set overrides): workload.script.allow_errors: found \"maybe\" (a string)"),
                  std::string::npos)
            << e.what();
    }
    config = script_config();
    config["workload"]["generator"] = {{"pattern", "sequential"}, {"length", "1M"}, {"count", 10}};
    try {
        sim::load_config(dir.file("both.json", config.dump()), {});
        FAIL() << "no error";
    } catch (const sim::ConfigError& e) {
        EXPECT_NE(std::string(e.what()).find("workload: has \"generator\" and \"script\"; give exactly one"), std::string::npos) << e.what();
    }
    config["workload"].erase("generator");
    config["workload"].erase("script");
    try {
        sim::load_config(dir.file("none.json", config.dump()), {});
        FAIL() << "no error";
    } catch (const sim::ConfigError& e) {
        EXPECT_NE(std::string(e.what()).find("workload: has none of \"trace\", \"generator\" and \"script\""), std::string::npos) << e.what();
    }
}

}  // namespace
}  // namespace mmusim::workloads

namespace mmusim::workloads {
namespace {

TEST(ScriptOps, MremapMovesARangeToAnotherRegion) {
    const nlohmann::json doc = {{"regions", {{{"name", "heap"}, {"size", "1M"}}, {{"name", "dst"}, {"size", "1M"}}}},
                                {"ops",
                                 {{{"op", "mremap"}, {"region", "heap"}, {"offset", "64K"}, {"size", "128K"}, {"to", "dst"},
                                   {"to_offset", "4K"}}}}};
    const Script s = parse_script(doc);
    ASSERT_EQ(s.syscalls.size(), 1u);
    const kernel::Syscall& c = s.syscalls[0];
    EXPECT_EQ(c.op, kernel::SyscallOp::Mremap);
    EXPECT_EQ(c.addr, s.regions[0].addr + 0x10000);
    EXPECT_EQ(c.len, 0x20000u);
    EXPECT_EQ(c.new_addr, s.regions[1].addr + 0x1000);
    // Errors name the destination keys.
    nlohmann::json bad = doc;
    bad["ops"][0]["to"] = "dts";
    try {
        (void)parse_script(bad);
        ADD_FAILURE() << "an undeclared destination region was accepted";
    } catch (const ScriptError& e) {
        EXPECT_NE(std::string(e.what()).find("workload.script.ops[0].to: \"dts\" is not a declared region"), std::string::npos)
            << e.what();
    }
    bad = doc;
    bad["ops"][0]["to_offset"] = "960K";
    try {
        (void)parse_script(bad);
        ADD_FAILURE() << "a destination past its region was accepted";
    } catch (const ScriptError& e) {
        EXPECT_NE(std::string(e.what()).find("workload.script.ops[0].to_offset: the moved 128K from 960K passes the end of region"),
                  std::string::npos)
            << e.what();
    }
}

}  // namespace
}  // namespace mmusim::workloads
