// The timeline recorder (models/kernel/timeline.h) on its own and attached to a kernel driven
// directly: times, nesting, arguments, the cap, and the track of work outside a core's call.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "models/kernel/timeline.h"
#include "sim/sc_context.h"
#include "tests/kernel/kernel_fixture.h"

namespace mmusim::kernel::testing {
namespace {

using nlohmann::json;

json written(const Timeline& t) {
    std::ostringstream out;
    t.write(out, "\"config\":\"x.json\"");
    return json::parse(out.str());
}

// The events other than metadata, in file order.
json events(const json& doc) {
    json out = json::array();
    for (const json& e : doc["traceEvents"])
        if (e["ph"] != "M") out.push_back(e);
    return out;
}

TEST(Timeline, MicrosecondsAreExactDecimals) {
    EXPECT_EQ(Timeline::microseconds(0), "0");
    EXPECT_EQ(Timeline::microseconds(1), "0.000001");
    EXPECT_EQ(Timeline::microseconds(1000), "0.001");
    EXPECT_EQ(Timeline::microseconds(1234567), "1.234567");
    EXPECT_EQ(Timeline::microseconds(5000000), "5");
    EXPECT_EQ(Timeline::microseconds(87185673000000), "87185673");
    EXPECT_EQ(Timeline::microseconds(12345678901234567), "12345678901.234567");
}

TEST(Timeline, ACallHoldsItsSpansAtTheCoresTime) {
    sim::fresh_systemc_context();
    sc_core::sc_time kernel_delay, synced, core_offset = sc_core::sc_time(5, sc_core::SC_NS);
    Timeline t(100);
    t.set_process_name("mmusim x.json");
    t.attach(&kernel_delay, &synced, 2);

    Syscall madvise;
    madvise.op = SyscallOp::Madvise;
    madvise.advice = Advice::DontNeed;
    madvise.addr = 0x10000000;
    madvise.len = 0x10000;
    KernelCallExt call;
    call.kind = KernelCallExt::Kind::Syscall;
    call.core = 1;
    call.process = 2;
    call.syscall = &madvise;
    call.result = -err::kEinval;

    t.call_arrive(1, core_offset);
    t.call_begin(1, core_offset);
    kernel_delay += sc_core::sc_time(10, sc_core::SC_NS);
    {
        const TimelineSpan unfold(&t, "unfold", {TimelineArg::hex("va", 0x10000000)});
        kernel_delay += sc_core::sc_time(20, sc_core::SC_NS);
        t.tlbi(arch::TlbiOp::VALE1IS, 1, 0x10000000, 0, 3);
        kernel_delay += sc_core::sc_time(5, sc_core::SC_NS);
    }
    t.push("lazy_mmu");  // left open: the call's end closes it
    t.barrier(Barrier::DsbIsh);
    t.call_arg(TimelineArg::str("note", "say \"hi\"\n"));
    kernel_delay += sc_core::sc_time(1, sc_core::SC_NS);
    t.call_end(call);
    // Outside a call: the "kernel" track, after the last core's.
    kernel_delay = sc_core::sc_time(100, sc_core::SC_NS);
    t.instant("scan", {TimelineArg::num("blocks", 3)});

    EXPECT_EQ(t.recorded(), 6u);
    EXPECT_EQ(t.dropped(), 0u);
    const json doc = written(t);
    const json e = events(doc);
    ASSERT_EQ(e.size(), 6u) << doc.dump(1);
    EXPECT_EQ(e[0]["name"], "madvise(dontneed)");
    EXPECT_EQ(e[0]["ph"], "X");
    EXPECT_EQ(e[0]["tid"], 1);
    EXPECT_EQ(e[0]["ts"], 0.005);
    EXPECT_EQ(e[0]["dur"], 0.036);
    EXPECT_EQ(e[0]["args"], (json{{"process", 2}, {"addr", "0x10000000"}, {"len", "0x10000"}, {"result", "EINVAL"},
                                  {"note", "say \"hi\"\n"}}));
    EXPECT_EQ(e[1]["name"], "unfold");
    EXPECT_EQ(e[1]["ts"], 0.015);
    EXPECT_EQ(e[1]["dur"], 0.025);
    EXPECT_EQ(e[1]["args"], (json{{"va", "0x10000000"}}));
    EXPECT_EQ(e[2]["name"], "TLBI VALE1IS");
    EXPECT_EQ(e[2]["ph"], "i");
    EXPECT_EQ(e[2]["s"], "t");
    EXPECT_EQ(e[2]["ts"], 0.035);
    EXPECT_EQ(e[2]["args"], (json{{"va", "0x10000000"}, {"asid", 1}, {"level", 3}}));
    EXPECT_EQ(e[3]["name"], "lazy_mmu");
    EXPECT_EQ(e[3]["ts"], 0.04);
    EXPECT_EQ(e[3]["dur"], 0.001);
    EXPECT_EQ(e[4]["name"], "DSB.ISH");
    EXPECT_EQ(e[4]["ts"], 0.04);
    EXPECT_EQ(e[5]["name"], "scan");
    EXPECT_EQ(e[5]["tid"], 2);
    EXPECT_EQ(e[5]["ts"], 0.1);
    EXPECT_EQ(e[5]["args"], (json{{"blocks", 3}}));

    std::map<int, std::string> threads;
    for (const json& m : doc["traceEvents"]) {
        if (m["ph"] == "M" && m["name"] == "process_name") {
            EXPECT_EQ(m["args"]["name"], "mmusim x.json");
        }
        if (m["ph"] == "M" && m["name"] == "thread_name") threads[m["tid"]] = m["args"]["name"];
    }
    EXPECT_EQ(threads, (std::map<int, std::string>{{0, "core 0"}, {1, "core 1"}, {2, "kernel"}}));
    EXPECT_EQ(doc["displayTimeUnit"], "ns");
    EXPECT_EQ(doc["otherData"], (json{{"config", "x.json"}, {"events", 6}, {"truncated", false}, {"events_dropped", 0}, {"cap", 100}}));
}

TEST(Timeline, PastTheCapEventsAreOnlyCounted) {
    sim::fresh_systemc_context();
    Timeline t(3);
    const Timeline::Span a = t.begin("a");
    t.instant("b");
    t.instant("c");
    const Timeline::Span d = t.begin("d");  // past the cap
    EXPECT_EQ(d, Timeline::kNoSpan);
    t.end(d);
    t.end(a);
    t.barrier(Barrier::Isb);
    EXPECT_EQ(t.recorded(), 3u);
    EXPECT_EQ(t.dropped(), 2u);
    const json doc = written(t);
    EXPECT_EQ(events(doc).size(), 3u);
    EXPECT_EQ(doc["otherData"]["truncated"], true);
    EXPECT_EQ(doc["otherData"]["events_dropped"], 2);
    EXPECT_EQ(doc["otherData"]["cap"], 3);
}

class TimelineKernel : public KernelFixture {};

// A kernel driven without a core (set-up, a kernel thread): a fold goes on the "kernel" track,
// timed by the kernel's own delay, so the convert's TLBIs lie inside it one TLBI cost apart.
TEST_F(TimelineKernel, AFoldOutsideACallIsTimedByTheKernelsDelay) {
    using namespace arch::bits;
    KernelConfig c = config();
    c.costs.tlbi_broadcast = 100;
    build(c);
    Timeline t(1000);
    kernel->set_timeline(&t);
    constexpr std::uint64_t kBlock = 0x20000000;
    // A PTE table for the block, made by a fault in another block of the same table.
    (void)fault(kBlock + 0x100000, arch::Access::Store);
    const Folio folio = *kernel->folios().alloc(4);
    constexpr arch::Desc kProt = kValid | kType | kUser | kShInner | kAf | kNg | kPxn | kDbm | kSwDirty;
    mark();
    for (std::uint64_t i = 0; i < 16; ++i)
        kernel->pgtable().set_pte_at(kernel->mm(), kBlock + i * 4096, pte_pa(kBlock + i * 4096),
                                     arch::desc_with_pfn(kProt, folio.head_pfn + i, 12));
    ASSERT_EQ(delta().folds, 1u);
    kernel->set_timeline(nullptr);

    const json e = events(written(t));
    json fold, tlbis = json::array();
    for (const json& ev : e) {
        EXPECT_EQ(ev["tid"], 1) << ev.dump();
        if (ev["name"] == "fold") fold = ev;
        if (ev["name"] == "TLBI VALE1IS") tlbis.push_back(ev);
    }
    ASSERT_TRUE(fold.is_object()) << e.dump(1);
    EXPECT_EQ(fold["args"]["va"], "0x20000000");
    ASSERT_EQ(tlbis.size(), 16u);
    const auto ps = [](const json& v) { return std::llround(v.get<double>() * 1e6); };
    for (std::size_t i = 0; i < tlbis.size(); ++i) {
        EXPECT_EQ(tlbis[i]["args"]["va"], "0x" + (std::ostringstream() << std::hex << kBlock + i * 4096).str());
        EXPECT_GE(ps(tlbis[i]["ts"]), ps(fold["ts"]));
        EXPECT_LE(ps(tlbis[i]["ts"]), ps(fold["ts"]) + ps(fold["dur"]));
        if (i > 0) {
            EXPECT_EQ(ps(tlbis[i]["ts"]) - ps(tlbis[i - 1]["ts"]), 100000) << i;  // 100 cycles of 1 ns
        }
    }
}

}  // namespace
}  // namespace mmusim::kernel::testing
