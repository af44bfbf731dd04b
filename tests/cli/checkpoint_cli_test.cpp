// Checkpoints of a script (`{"op": "checkpoint"}`, `mmusim run --checkpoints FILE`): the state
// of every page of each kind, the counters, that checkpoints change nothing else in a run, and
// `mmusim guest-plan`, the flat plan scripts/linux-check runs on Linux.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "models/arch/descriptor.h"
#include "models/kernel/checkpoint.h"
#include "models/kernel/pte.h"
#include "tests/cli/cli_helpers.h"

namespace mmusim::cli_test {
namespace {

using nlohmann::json;

json script_config(const json& regions, const json& ops, const json& kernel = json::object()) {
    json k = {{"version", "6.12"}};
    k.update(kernel);
    return {{"kernel", k}, {"workload", {{"script", {{"regions", regions}, {"ops", ops}}}}}};
}

const json kHeap = json::array({{{"name", "heap"}, {"size", "1M"}}});
const json kBig = json::array({{{"name", "heap"}, {"size", "4M"}}});

json op_mmap(const std::string& prot = "rw") { return {{"op", "mmap"}, {"region", "heap"}, {"prot", prot}}; }
json op_store(const std::string& offset = "0", const std::string& size = "1M") {
    return {{"op", "access"}, {"region", "heap"}, {"offset", offset}, {"size", size}, {"stride", "4K"}, {"mix", "store"}};
}
json op_checkpoint(const std::string& name) { return {{"op", "checkpoint"}, {"name", name}}; }

// Runs `config` with --checkpoints and returns the document.
json checkpoints_of(const ScratchDir& dir, const json& config) {
    write_json(dir / "c.json", config);
    const CliResult r = run_mmusim({"run", (dir / "c.json").string(), "--out", (dir / "out").string(), "--checkpoints",
                                    (dir / "ck.json").string()},
                                   dir.path());
    EXPECT_EQ(r.exit_code, 0) << r.err;
    if (r.exit_code != 0) return json::object();
    return json::parse(read_text(dir / "ck.json"));
}

const json& page(const json& doc, std::size_t checkpoint, std::size_t process, std::uint64_t offset) {
    return doc["checkpoints"][checkpoint]["processes"][process]["pages"][offset / 4096];
}

TEST(CliCheckpoint, AnMthpBlockThenPartialMprotectThenFork) {
    ScratchDir dir;
    const json ops = {op_mmap(), op_store(), op_checkpoint("after-fault"),
                      {{"op", "mprotect"}, {"region", "heap"}, {"offset", "8K"}, {"size", "8K"}, {"prot", "r"}},
                      op_checkpoint("after-mprotect"), {{"op", "fork"}, {"child", "child"}},
                      {{"op", "access"}, {"region", "heap"}, {"offset", "64K"}, {"size", "4K"}, {"mix", "store"}, {"process", "child"}},
                      op_checkpoint("after-fork")};
    const json doc = checkpoints_of(dir, script_config(kHeap, ops, {{"mthp", {"64K"}}}));
    ASSERT_EQ(doc["schema"], "mmusim-checkpoints/1");
    ASSERT_EQ(doc["checkpoints"].size(), 3u);
    EXPECT_EQ(doc["checkpoints"][1]["name"], "after-mprotect");
    EXPECT_EQ(doc["checkpoints"][1]["origin"], "workload.script.ops[4]");

    // 16 faults, each a folded 64K folio.
    const json& c0 = doc["checkpoints"][0];
    EXPECT_EQ(c0["counters"]["faults"], 16);
    EXPECT_EQ(c0["counters"]["anon_fault_alloc"]["65536"], 16);
    ASSERT_EQ(c0["processes"].size(), 1u);
    ASSERT_EQ(c0["processes"][0]["pages"].size(), 256u);
    for (std::uint64_t off = 0; off < (1u << 20); off += 4096) {
        const json& p = page(doc, 0, 0, off);
        ASSERT_EQ(p["entry"], "page") << off;
        EXPECT_TRUE(p["cont"].get<bool>()) << off;
        EXPECT_EQ(p["write"], "dirty") << off;
        EXPECT_TRUE(p["af"].get<bool>());
        EXPECT_FALSE(p["exec"].get<bool>());
        EXPECT_EQ(p["folio"]["size"], 65536);
        EXPECT_EQ(p["folio"]["index"], (off % 65536) / 4096);
    }
    // The mprotect unfolds the first block; its two pages are read-only, the rest stay
    // writable; the other blocks stay folded.
    EXPECT_EQ(page(doc, 1, 0, 0x2000)["write"], "ro");
    EXPECT_EQ(page(doc, 1, 0, 0x3000)["write"], "ro");
    EXPECT_EQ(page(doc, 1, 0, 0x4000)["write"], "dirty");
    for (std::uint64_t off = 0; off < 65536; off += 4096) EXPECT_FALSE(page(doc, 1, 0, off)["cont"].get<bool>()) << off;
    EXPECT_TRUE(page(doc, 1, 0, 0x10000)["cont"].get<bool>());

    // After fork both processes are recorded; the parent's blocks are write-protected and
    // stay folded; the child's store copied one page into an order-0 folio.
    const json& c2 = doc["checkpoints"][2];
    ASSERT_EQ(c2["processes"].size(), 2u);
    EXPECT_EQ(c2["processes"][1]["name"], "child");
    EXPECT_EQ(page(doc, 2, 0, 0x20000)["write"], "ro");
    EXPECT_TRUE(page(doc, 2, 0, 0x20000)["cont"].get<bool>());
    const json& copied = page(doc, 2, 1, 0x10000);
    EXPECT_EQ(copied["write"], "dirty");
    EXPECT_FALSE(copied["cont"].get<bool>());
    EXPECT_EQ(copied["folio"]["size"], 4096);
    EXPECT_EQ(c2["counters"]["faults"], 17);
}

TEST(CliCheckpoint, EachKindOfPage) {
    ScratchDir dir;
    const json regions = json::array({{{"name", "heap"}, {"size", "1M"}}, {{"name", "huge"}, {"size", "2M"}}});
    const json ops = {
        op_mmap("rwx"),
        {{"op", "mmap"}, {"region", "huge"}, {"prot", "rw"}},
        // 0: none; 4K: zero page; 8K: a written page, executed; 12K: PROT_NONE; 16K: swapped
        // out; 20K: uffd-wp marker; the huge region: a PMD THP.
        {{"op", "access"}, {"region", "heap"}, {"offset", "4K"}, {"size", "4K"}, {"mix", "load"}},
        op_store("8K", "12K"),
        {{"op", "access"}, {"region", "heap"}, {"offset", "8K"}, {"size", "4K"}, {"mix", "ifetch"}},
        // 24K: an instruction fetch of fresh memory maps the zero page, executable.
        {{"op", "access"}, {"region", "heap"}, {"offset", "24K"}, {"size", "4K"}, {"mix", "ifetch"}},
        {{"op", "mprotect"}, {"region", "heap"}, {"offset", "12K"}, {"size", "4K"}, {"prot", "none"}},
        {{"op", "madvise"}, {"region", "heap"}, {"offset", "16K"}, {"size", "4K"}, {"advice", "pageout"}},
        {{"op", "uffd_register"}, {"region", "heap"}, {"offset", "20K"}, {"size", "4K"}, {"mode", {"wp"}}, {"wp_unpopulated", true}},
        {{"op", "uffd_wp"}, {"region", "heap"}, {"offset", "20K"}, {"size", "4K"}},
        {{"op", "madvise"}, {"region", "huge"}, {"advice", "hugepage"}},
        {{"op", "access"}, {"region", "huge"}, {"size", "4K"}, {"mix", "store"}},
        op_checkpoint("kinds")};
    const json doc = checkpoints_of(dir, script_config(regions, ops, {{"thp", "madvise"}}));
    ASSERT_EQ(doc["checkpoints"].size(), 1u);
    EXPECT_EQ(page(doc, 0, 0, 0)["entry"], "none");
    EXPECT_FALSE(page(doc, 0, 0, 0).contains("cont"));
    const json& zero = page(doc, 0, 0, 0x1000);
    EXPECT_EQ(zero["entry"], "page");
    EXPECT_TRUE(zero["zero"].get<bool>());
    EXPECT_TRUE(zero["special"].get<bool>());
    EXPECT_EQ(zero["write"], "ro");
    EXPECT_TRUE(zero["folio"].is_null());
    const json& code = page(doc, 0, 0, 0x2000);
    EXPECT_TRUE(code["exec"].get<bool>());
    EXPECT_FALSE(code["zero"].get<bool>());
    EXPECT_EQ(code["folio"]["size"], 4096);
    const json& fetched = page(doc, 0, 0, 0x6000);
    EXPECT_TRUE(fetched["exec"].get<bool>());
    EXPECT_TRUE(fetched["zero"].get<bool>());
    const json& none = page(doc, 0, 0, 0x3000);
    EXPECT_EQ(none["entry"], "page");
    EXPECT_TRUE(none["prot_none"].get<bool>());
    EXPECT_EQ(page(doc, 0, 0, 0x4000)["entry"], "swap");
    EXPECT_EQ(page(doc, 0, 0, 0x5000)["entry"], "marker");
    // Every 4K page of the THP: level 2, its index in the 2M folio.
    const std::size_t heap_pages = 256;
    const json& pages = doc["checkpoints"][0]["processes"][0]["pages"];
    ASSERT_EQ(pages.size(), heap_pages + 512);
    for (std::size_t i = 0; i < 512; i += 37) {
        const json& p = pages[heap_pages + i];
        EXPECT_EQ(p["region"], "huge");
        EXPECT_EQ(p["level"], 2) << i;
        EXPECT_FALSE(p["cont"].get<bool>());
        EXPECT_EQ(p["folio"]["size"], 2u << 20);
        EXPECT_EQ(p["folio"]["index"], i);
    }
    EXPECT_EQ(doc["checkpoints"][0]["counters"]["anon_fault_alloc"]["2097152"], 1);
}

TEST(CliCheckpoint, ForkOfAProtNoneBlockBeforeAndAfterV614) {
    // fork copies a PROT_NONE 64K block with one set_ptes; before v6.14 pte_mkcont() also set
    // PTE_TYPE_PAGE, so the child's entries come out valid (kernel-only): Linux 6.12 does so.
    ScratchDir dir;
    const json ops = {op_mmap(), op_store(), {{"op", "mprotect"}, {"region", "heap"}, {"offset", "64K"}, {"size", "64K"}, {"prot", "none"}},
                      {{"op", "fork"}, {"child", "c"}}, op_checkpoint("forked")};
    for (const std::string version : {"6.12", "6.14"}) {
        const json doc = checkpoints_of(dir, script_config(kHeap, ops, {{"mthp", {"64K"}}, {"version", version}}));
        ASSERT_EQ(doc["checkpoints"][0]["processes"].size(), 2u) << version;
        const json& parent = page(doc, 0, 0, 0x10000);
        const json& child = page(doc, 0, 1, 0x10000);
        EXPECT_TRUE(parent["prot_none"].get<bool>()) << version;
        EXPECT_FALSE(parent["cont"].get<bool>()) << version;
        EXPECT_TRUE(child["cont"].get<bool>()) << version;
        EXPECT_EQ(child["prot_none"].get<bool>(), version == "6.14") << version;
    }
}

TEST(CliCheckpoint, DecodeLeafOfHandMadeDescriptors) {
    using namespace arch::bits;
    const arch::Desc user = kValid | kType | kUser | kAf | kShInner | kNg | kPxn | kUxn | (arch::Desc{0x1234} << 12);
    kernel::PageState s = kernel::decode_leaf(user | kRdonly, 3);
    EXPECT_EQ(s.entry, kernel::EntryKind::Page);
    EXPECT_EQ(s.write, kernel::WriteState::ReadOnly);
    EXPECT_TRUE(s.af);
    EXPECT_FALSE(s.exec);
    EXPECT_EQ(kernel::decode_leaf(user | kRdonly | kDbm, 3).write, kernel::WriteState::Clean);
    EXPECT_EQ(kernel::decode_leaf(user | kDbm, 3).write, kernel::WriteState::Dirty);
    EXPECT_TRUE(kernel::decode_leaf(user & ~kUxn, 3).exec);
    EXPECT_FALSE(kernel::decode_leaf(user & ~kAf, 3).af);
    EXPECT_TRUE(kernel::decode_leaf(user | kCont, 3).cont);
    EXPECT_FALSE(kernel::decode_leaf((user | kCont) & ~kType, 2).cont);  // CONT is read at the PTE level only
    EXPECT_TRUE(kernel::decode_leaf(user | kSwSpecial, 3).special);
    EXPECT_TRUE(kernel::decode_leaf(user | kSwUffdWp, 3).uffd_wp);
    const kernel::PageState protnone = kernel::decode_leaf((user & ~kValid) | kRdonly, 3);
    EXPECT_EQ(protnone.entry, kernel::EntryKind::Page);
    EXPECT_TRUE(protnone.prot_none);
    EXPECT_EQ(kernel::decode_leaf(0, 3).entry, kernel::EntryKind::None);
    EXPECT_EQ(kernel::decode_leaf(kernel::swp_entry_to_pte(5), 3).entry, kernel::EntryKind::Swap);
    EXPECT_EQ(kernel::decode_leaf(kernel::make_migration_entry(7), 3).entry, kernel::EntryKind::Migration);
    EXPECT_EQ(kernel::decode_leaf(kernel::pte_bits::kMarkerUffdWp, 3).entry, kernel::EntryKind::Marker);
}

TEST(CliCheckpoint, CheckpointsChangeNothingElse) {
    ScratchDir dir;
    const json plain = script_config(kHeap, {op_mmap(), op_store(), {{"op", "munmap"}, {"region", "heap"}, {"size", "64K"}}},
                                     {{"mthp", {"64K"}}});
    json marked = plain;
    json& ops = marked["workload"]["script"]["ops"];
    ops = {ops[0], op_checkpoint("a"), ops[1], op_checkpoint("b"), ops[2], op_checkpoint("c")};
    write_json(dir / "plain.json", plain);
    write_json(dir / "marked.json", marked);
    json a = run_stats({"run", (dir / "plain.json").string(), "--json"}, dir.path());
    json b = run_stats({"run", (dir / "marked.json").string(), "--json", "--checkpoints", (dir / "ck.json").string()}, dir.path());
    ASSERT_FALSE(a.empty());
    ASSERT_FALSE(b.empty());
    a.erase("config");
    b.erase("config");
    EXPECT_EQ(a, b);
    // And the checkpoints file is the same bytes every time.
    const std::string first = read_text(dir / "ck.json");
    run_stats({"run", (dir / "marked.json").string(), "--json", "--checkpoints", (dir / "ck.json").string()}, dir.path());
    EXPECT_EQ(read_text(dir / "ck.json"), first);
    const CliResult v = run_mmusim({"validate", (dir / "marked.json").string()}, dir.path());
    EXPECT_NE(v.out.find("script, 258 records"), std::string::npos) << v.out;
}

TEST(CliCheckpoint, BadCheckpointsAreCleanErrors) {
    ScratchDir dir;
    const auto bad = [&](const json& config, const std::vector<std::string>& extra, const std::vector<std::string>& needles) {
        write_json(dir / "bad.json", config);
        std::vector<std::string> args = {"run", (dir / "bad.json").string(), "--out", (dir / "out").string()};
        args.insert(args.end(), extra.begin(), extra.end());
        const CliResult r = run_mmusim(args, dir.path());
        EXPECT_TRUE(is_clean_error(r, dir / "out", needles)) << r.err;
        EXPECT_FALSE(fs::exists(dir / "ck.json"));
    };
    bad(script_config(kHeap, {op_checkpoint("a"), op_checkpoint("a")}), {}, {"ops[1].name", "\"a\"", "ops[0]", "unique"});
    bad(script_config(kHeap, {{{"op", "checkpoint"}}}), {}, {"ops[0].name", "is required"});
    bad(script_config(kHeap, {{{"op", "checkpoint"}, {"name", "a"}, {"process", "main"}}}), {}, {"ops[0].process", "every running process"});
    bad(script_config(kHeap, {{{"op", "checkpoint"}, {"name", "a"}, {"when", 1}}}), {}, {"ops[0]", "when"});
    bad(generator_config(100), {"--checkpoints", (dir / "ck.json").string()}, {"--checkpoints", "generator", "workload.script"});
    bad(script_config(kHeap, json::array({op_checkpoint("a")})), {"--checkpoints", (dir / "nowhere" / "ck.json").string()},
        {"--checkpoints", "nowhere", "does not exist"});
}

TEST(CliGuestPlan, FlatPlanOfAScript) {
    ScratchDir dir;
    const json ops = {op_mmap(), op_store("0", "64K"), op_checkpoint("after fault"),
                      {{"op", "loop"}, {"count", 2}, {"ops", {{{"op", "mprotect"}, {"region", "heap"}, {"size", "4K"}, {"prot", "r"}}}}},
                      {{"op", "fork"}, {"child", "kid"}},
                      {{"op", "access"}, {"region", "heap"}, {"size", "8K"}, {"stride", "4K"}, {"mix", "load"}, {"process", "kid"}},
                      {{"op", "exit"}, {"process", "kid"}}};
    write_json(dir / "c.json", script_config(kHeap, ops, {{"mthp", {"64K"}}, {"thp", "madvise"}}));
    const CliResult r = run_mmusim({"guest-plan", (dir / "c.json").string(), "-o", (dir / "plan.txt").string()}, dir.path());
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const std::string plan = read_text(dir / "plan.txt");
    const std::string thp = "sysfs /sys/kernel/mm/transparent_hugepage/";
    const std::string expected = "mmusim-guest-plan 1\n" + thp + "enabled madvise\n" + thp + "hugepages-16kB/enabled never\n" + thp +
                                 "hugepages-32kB/enabled never\n" + thp + "hugepages-64kB/enabled always\n" + thp +
                                 "hugepages-128kB/enabled never\n" + thp + "hugepages-256kB/enabled never\n" + thp +
                                 "hugepages-512kB/enabled never\n" + thp + "hugepages-1024kB/enabled never\n" + thp +
                                 "hugepages-2048kB/enabled inherit\n" + thp + "use_zero_page 1\n" + thp +
                                 "khugepaged/scan_sleep_millisecs 4294967295\n" + thp +
                                 "khugepaged/alloc_sleep_millisecs 4294967295\n"
                                 "region heap 0x10000000 0x100000\n"
                                 "op 0 mmap 0x10000000 0x100000 rw private\n"
                                 "run 0 store 8 0x10000000 0x1000 16\n"
                                 "checkpoint 0 after_fault\n"
                                 "op 0 mprotect 0x10000000 0x1000 r\n"
                                 "op 0 mprotect 0x10000000 0x1000 r\n"
                                 "op 0 fork 1\n"
                                 "run 1 load 8 0x10000000 0x1000 2\n"
                                 "op 1 exit\n"
                                 "end\n";
    EXPECT_EQ(plan, expected);

    // Files: one line each, as long as its furthest mapping; an mmap names the file and offset.
    const json file_ops = {{{"op", "mmap"}, {"region", "heap"}, {"size", "64K"}, {"type", "file"}, {"file", "lib"}, {"file_offset", "8K"}, {"prot", "rx"}}};
    write_json(dir / "f.json", script_config(kHeap, file_ops));
    const CliResult f = run_mmusim({"guest-plan", (dir / "f.json").string()}, dir.path());
    ASSERT_EQ(f.exit_code, 0) << f.err;
    EXPECT_NE(f.out.find("\nfile 0 0x12000\nregion heap 0x10000000 0x100000\nop 0 mmap 0x10000000 0x10000 rx private file 0 0x2000\n"),
              std::string::npos) << f.out;
}

TEST(CliGuestPlan, RefusesWhatLinuxCannotRunTheSameWay) {
    ScratchDir dir;
    const auto refused = [&](const json& config, const std::vector<std::string>& needles) {
        write_json(dir / "c.json", config);
        const CliResult r = run_mmusim({"guest-plan", (dir / "c.json").string(), "-o", (dir / "plan.txt").string()}, dir.path());
        EXPECT_TRUE(is_clean_error(r, dir / "out", needles)) << r.err;
        EXPECT_FALSE(fs::exists(dir / "plan.txt"));
    };
    refused(generator_config(10), {"linux-check", "generator"});
    refused(script_config(kHeap, json::array({op_mmap()}), {{"fold_policy", "never"}}), {"kernel.fold_policy", "never"});
    refused(script_config(kHeap, json::array({op_mmap()}), {{"contpte", false}}), {"kernel.contpte"});
    refused(script_config(kHeap, json::array({op_mmap()}), {{"mthp", {"8K"}}}), {"8K", "order 2"});
    refused(script_config(kHeap, {{{"op", "mmap"}, {"region", "heap"}, {"type", "pfnmap"}}}), {"pfnmap", "workload.script.ops[0]"});
    refused(script_config(kHeap, {{{"op", "mmap"}, {"region", "heap"}, {"type", "file"}, {"file", "f"}, {"file_folio", "64K"}}}),
            {"file_folio 64K", "tmpfs", "workload.script.ops[0]"});
    refused(script_config(kHeap, {{{"op", "mmap"}, {"region", "heap"}, {"type", "file"}, {"file", "f"}, {"shared", true}, {"prot", "rw"}}}),
            {"shared writable file mapping", "workload.script.ops[0]"});
    refused(script_config(kHeap, json::array({op_mmap()}), {{"fault_around", "16K"}}), {"kernel.fault_around", "16K", "64K"});
    refused(script_config(kHeap, {op_mmap(), {{"op", "numa_scan"}, {"region", "heap"}}}), {"numa_scan", "workload.script.ops[1]"});
    refused(script_config(kHeap, {op_mmap(), {{"op", "madvise"}, {"region", "heap"}, {"advice", "pageout"}}},
                          {{"swap", {{"device", "disk"}}}}),
            {"kernel.swap.device", "disk", "zram"});
    refused(script_config(kHeap, {{{"op", "access"}, {"region", "heap"}, {"count", 30000000}}}),
            {"accesses", "emulation"});
    // Reclaim is MADV_COLD in the guest: it leaves shared folios alone and splits a large folio
    // that its range covers only partly.
    const json fork = {{"op", "fork"}, {"child", "kid"}};
    const json reclaim = {{"op", "reclaim"}, {"region", "heap"}};
    refused(script_config(kHeap, {op_mmap(), op_store(), fork, reclaim}),
            {"reclaim", "workload.script.ops[3]", "2 processes", "MADV_COLD"});
    const json part = {{"op", "reclaim"}, {"region", "heap"}, {"offset", "32K"}, {"size", "64K"}};
    refused(script_config(kHeap, {op_mmap(), op_store(), part}, {{"mthp", {"64K"}}}),
            {"reclaim", "workload.script.ops[2]", "starts at 0x10008000", "64K folio", "MADV_COLD"});
    const json hugepage = {{"op", "madvise"}, {"region", "heap"}, {"advice", "hugepage"}};
    const json half = {{"op", "reclaim"}, {"region", "heap"}, {"size", "1M"}};
    refused(script_config(kBig, {op_mmap(), hugepage, op_store(), half}, {{"thp", "madvise"}, {"mthp", {"64K"}}}),
            {"reclaim", "workload.script.ops[3]", "ends at 0x10100000", "2M folio"});
}

TEST(CliGuestPlan, ReclaimWhereMadvColdAgesAsTheModelDoes) {
    ScratchDir dir;
    const auto plan_of = [&](const json& config) {
        write_json(dir / "c.json", config);
        const CliResult r = run_mmusim({"guest-plan", (dir / "c.json").string(), "-o", (dir / "plan.txt").string()}, dir.path());
        EXPECT_EQ(r.exit_code, 0) << r.err;
        return read_text(dir / "plan.txt");
    };
    const json fork = {{"op", "fork"}, {"child", "kid"}};
    const json exit = {{"op", "exit"}, {"process", "kid"}};
    const json blocks = {{"op", "reclaim"}, {"region", "heap"}, {"offset", "64K"}, {"size", "128K"}};
    // Whole 64K blocks, after the child exited; pages of 4K anywhere without large folios; a
    // 1M range where only kernel.thp "always" or MADV_HUGEPAGE would map PMD THPs.
    EXPECT_NE(plan_of(script_config(kHeap, {op_mmap(), op_store(), fork, exit, blocks}, {{"mthp", {"64K"}}}))
                  .find("op 0 reclaim 0x10010000 0x20000\n"),
              std::string::npos);
    const json pages = {{"op", "reclaim"}, {"region", "heap"}, {"offset", "4K"}, {"size", "8K"}};
    EXPECT_NE(plan_of(script_config(kHeap, {op_mmap(), op_store(), pages})).find("op 0 reclaim 0x10001000 0x2000\n"),
              std::string::npos);
    const json half = {{"op", "reclaim"}, {"region", "heap"}, {"size", "1M"}};
    EXPECT_NE(plan_of(script_config(kBig, {op_mmap(), op_store(), half}, {{"thp", "madvise"}, {"mthp", {"64K"}}}))
                  .find("op 0 reclaim 0x10000000 0x100000\n"),
              std::string::npos);
}

}  // namespace
}  // namespace mmusim::cli_test
