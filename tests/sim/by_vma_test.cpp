// Statistics by kind of mapping (kernel.by_vma, mmu.by_vma): each kind counts what happens in
// its VMAs, and the kinds together count everything that happens inside a VMA.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/sim/sim_test_util.h"

namespace mmusim::sim::testing {
namespace {

using nlohmann::json;

const std::vector<std::string> kKinds = {"text", "file", "anon", "heap", "stack", "shared", "special"};
const std::vector<std::string> kEvents = {"L1D_TLB_REFILL", "L1I_TLB_REFILL", "DTLB_WALK", "ITLB_WALK"};

std::uint64_t u(const json& v) { return v.get<std::uint64_t>(); }

// The kinds add up to the run's totals: faults, folios by size and the PMU's refills and walks.
void expect_sums_are_totals(const json& stats) {
    std::uint64_t faults = 0;
    json folios = json::object();
    for (const auto& [size, n] : stats["kernel"]["folios"].items()) folios[size] = 0;
    for (const std::string& kind : kKinds) {
        const json& k = stats["kernel"]["by_vma"][kind];
        faults += u(k["faults"]);
        EXPECT_LE(u(k["cont_pages"]), u(k["pages"])) << kind;
        for (const auto& [size, n] : k["folios"].items()) folios[size] = u(folios[size]) + u(n);
    }
    EXPECT_EQ(faults, u(stats["kernel"]["faults"]["total"]));
    EXPECT_EQ(folios, stats["kernel"]["folios"]);
    for (const std::string& event : kEvents) {
        std::uint64_t sum = 0;
        for (const std::string& kind : kKinds) sum += u(stats["mmu"]["by_vma"][kind][event]);
        EXPECT_EQ(sum, u(stats["pmu"][event])) << event;
        EXPECT_GT(sum, 0u) << event;
    }
}

// A script with an anonymous region (64K mTHP, folded by contpte), a shared anonymous one
// (shmem), a read-only file mapping and an executable one (text).
json script_config() {
    const auto region = [](const char* name, const char* size) {
        return json{{"name", name}, {"size", size}, {"align", "64K"}};
    };
    return {{"platform", "neoverse-n1"},
            {"kernel", {{"version", "6.17"}, {"granule", "4K"}, {"mthp", {"64K"}}}},
            {"workload",
             {{"script",
               {{"regions", {region("anon", "1M"), region("shm", "256K"), region("data", "512K"), region("code", "256K")}},
                {"ops",
                 {{{"op", "mmap"}, {"region", "anon"}},
                  {{"op", "access"}, {"region", "anon"}, {"stride", "4K"}, {"mix", "store"}},
                  {{"op", "mmap"}, {"region", "shm"}, {"shared", true}},
                  {{"op", "access"}, {"region", "shm"}, {"stride", "4K"}, {"mix", "store"}},
                  {{"op", "mmap"}, {"region", "data"}, {"type", "file"}, {"file", "data"}, {"file_folio", "64K"}, {"prot", "r"}},
                  {{"op", "access"}, {"region", "data"}, {"stride", "4K"}, {"mix", "load"}},
                  {{"op", "mmap"}, {"region", "code"}, {"type", "file"}, {"file", "code"}, {"file_folio", "64K"}, {"prot", "rx"}},
                  {{"op", "access"}, {"region", "code"}, {"stride", "4K"}, {"mix", "ifetch"}},
                  {{"op", "access"}, {"region", "anon"}, {"pattern", "random"}, {"count", 2000}, {"mix", "load"}}}}}}}},
            {"seed", 1}};
}

TEST(ByVma, ScriptCountsEachKindOfMapping) {
    TempDir dir;
    const json stats = run_json(dir, script_config());
    const json& k = stats["kernel"]["by_vma"];
    const json& m = stats["mmu"]["by_vma"];
    ASSERT_EQ(k.size(), kKinds.size());
    ASSERT_EQ(m.size(), kKinds.size());

    // anon: each store fault maps a 64K folio, written with PTE_CONT by contpte_set_ptes.
    EXPECT_EQ(u(k["anon"]["faults"]), 16u);
    EXPECT_EQ(u(k["anon"]["pages"]), 256u);
    EXPECT_EQ(u(k["anon"]["cont_pages"]), 256u);
    EXPECT_EQ(u(k["anon"]["folios"]["64K"]), 16u);
    EXPECT_EQ(u(k["anon"]["folios"]["4K"]), 0u);
    // shared: shmem, every page written.
    EXPECT_GT(u(k["shared"]["faults"]), 0u);
    EXPECT_EQ(u(k["shared"]["pages"]), 64u);
    // file and text: page-cache folios of 64K, every page read or fetched.
    EXPECT_GT(u(k["file"]["faults"]), 0u);
    EXPECT_EQ(u(k["file"]["pages"]), 128u);
    EXPECT_EQ(u(k["file"]["folios"]["64K"]), 8u);
    EXPECT_GT(u(k["text"]["faults"]), 0u);
    EXPECT_EQ(u(k["text"]["pages"]), 64u);
    EXPECT_EQ(u(k["text"]["folios"]["64K"]), 4u);
    // Instruction fetches only touch the text mapping, data accesses only the others.
    EXPECT_GT(u(m["text"]["ITLB_WALK"]), 0u);
    EXPECT_EQ(u(m["text"]["DTLB_WALK"]), 0u);
    for (const char* kind : {"anon", "shared", "file"}) {
        EXPECT_GT(u(m[kind]["DTLB_WALK"]), 0u) << kind;
        EXPECT_EQ(u(m[kind]["L1I_TLB_REFILL"]), 0u) << kind;
    }
    for (const char* kind : {"heap", "stack", "special"}) {
        EXPECT_EQ(u(k[kind]["faults"]), 0u) << kind;
        EXPECT_EQ(u(k[kind]["pages"]), 0u) << kind;
        for (const std::string& event : kEvents) EXPECT_EQ(u(m[kind][event]), 0u) << kind << " " << event;
    }
    expect_sums_are_totals(stats);
}

// Without contpte no page is mapped with PTE_CONT; the other counts do not change.
TEST(ByVma, NoContPagesWithoutContpte) {
    TempDir dir;
    const json stats = run_json(dir, script_config(), {parse_override("kernel.contpte=false", "--set")});
    EXPECT_EQ(u(stats["kernel"]["by_vma"]["anon"]["pages"]), 256u);
    for (const std::string& kind : kKinds) EXPECT_EQ(u(stats["kernel"]["by_vma"][kind]["cont_pages"]), 0u) << kind;
    expect_sums_are_totals(stats);
}

// Layout "auto": one anonymous VMA over everything, so everything is anon, on every core.
TEST(ByVma, AutoLayoutIsAllAnon) {
    TempDir dir;
    for (unsigned cores : {1u, 2u}) {
        const json config = {{"platform", "neoverse-n1"},
                             {"kernel", {{"mthp", {"64K"}}}},
                             {"workload",
                              {{"generator",
                                {{"pattern", "uniform"}, {"length", "8M"}, {"code_length", "64K"}, {"count", 20000},
                                 {"store_fraction", 0.3}}}}},
                             {"seed", 3}};
        const json stats = run_json(dir, config,
                                    {parse_override("platform.cores=" + std::to_string(cores)),
                                     parse_override("workload.threads=" + std::to_string(cores))});
        const json& k = stats["kernel"]["by_vma"];
        EXPECT_EQ(u(k["anon"]["faults"]), u(stats["kernel"]["faults"]["total"])) << cores;
        EXPECT_GT(u(k["anon"]["pages"]), 0u) << cores;
        EXPECT_GT(u(k["anon"]["cont_pages"]), 0u) << cores;
        for (const std::string& event : kEvents)
            EXPECT_EQ(u(stats["mmu"]["by_vma"]["anon"][event]), u(stats["pmu"][event])) << cores << " " << event;
        // Each core attributes its own MMU's events.
        ASSERT_EQ(stats["cores"].size(), cores);
        for (const json& core : stats["cores"])
            EXPECT_EQ(u(core["mmu"]["by_vma"]["anon"]["DTLB_WALK"]), u(core["pmu"]["DTLB_WALK"])) << cores;
        expect_sums_are_totals(stats);
    }
}

}  // namespace
}  // namespace mmusim::sim::testing
