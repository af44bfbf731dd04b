// The pieces of a sweep that need no process: --grid parsing, the content hash, CSV cells and
// the metric table.
#include <gtest/gtest.h>

#include <string>

#include <nlohmann/json.hpp>

#include "sim/config_error.h"
#include "sim/sweep.h"
#include "sim/sweep_results.h"

namespace mmusim::sim {
namespace {

using nlohmann::json;

TEST(SweepGrid, ValuesSplitOutsideBracketsAndParseAsSetDoes) {
    const GridDimension d = parse_grid(R"(kernel.mthp=[],["64K"],["16K","64K"])");
    EXPECT_EQ(d.key, "kernel.mthp");
    EXPECT_EQ(d.option, R"(--grid kernel.mthp=[],["64K"],["16K","64K"])");
    ASSERT_EQ(d.texts.size(), 3u);
    EXPECT_EQ(d.texts[2], R"(["16K","64K"])");
    EXPECT_EQ(d.values, json::parse(R"([[],["64K"],["16K","64K"]])"));

    EXPECT_EQ(parse_grid("kernel.contpte=false,true").values, json::parse("[false,true]"));
    EXPECT_EQ(parse_grid("seed=1,2,3").values, json::parse("[1,2,3]"));
    // A key that takes a string gets the text as typed: 6.10 is "6.10", not the number 6.1.
    EXPECT_EQ(parse_grid("kernel.version=6.9,6.10").values, json::parse(R"(["6.9","6.10"])"));
    EXPECT_EQ(parse_grid("platform=neoverse-n1,ampereone").values, json::parse(R"(["neoverse-n1","ampereone"])"));
    EXPECT_EQ(parse_grid(R"(workload.trace.path="a,b.gz",c.gz)").values, json::parse(R"(["a,b.gz","c.gz"])"));
}

TEST(SweepGrid, MistakesNameTheOption) {
    const auto message = [](const std::string& text) {
        try {
            parse_grid(text);
        } catch (const ConfigError& e) {
            return std::string(e.what());
        }
        return std::string("no error");
    };
    EXPECT_EQ(message("kernel.contpte"), "--grid kernel.contpte: expected KEY=V1,V2[,...], e.g. --grid kernel.contpte=false,true");
    EXPECT_EQ(message("=1,2").rfind("--grid =1,2: expected KEY=", 0), 0u);
    EXPECT_EQ(message("kernel.contpte=").rfind("--grid kernel.contpte=: no values", 0), 0u);
    EXPECT_EQ(message("seed=1,").rfind("--grid seed=1,: value 2 of 2 is empty", 0), 0u);
    EXPECT_EQ(message("kernel.nope=1").rfind("--grid kernel.nope=1: unknown key \"kernel.nope\"", 0), 0u);
}

TEST(SweepHash, Fnv1a64KnownValues) {
    EXPECT_EQ(fnv1a64(""), 0xcbf29ce484222325ULL);
    EXPECT_EQ(fnv1a64("a"), 0xaf63dc4c8601ec8cULL);
    EXPECT_EQ(fnv1a64("foobar"), 0x85944171f73967e8ULL);
}

TEST(SweepCsv, CellsAreQuotedOnlyWhenNeeded) {
    EXPECT_EQ(csv_field("plain"), "plain");
    EXPECT_EQ(csv_field("a,b"), "\"a,b\"");
    EXPECT_EQ(csv_field(R"(["64K"])"), R"("[""64K""]")");
    EXPECT_EQ(csv_value(json(std::uint64_t{18446744073709551615ULL})), "18446744073709551615");
    EXPECT_EQ(csv_value(json(-3)), "-3");
    EXPECT_EQ(csv_value(json(0.1234567)), "0.123457");
    EXPECT_EQ(csv_value(json(nullptr)), "");
    EXPECT_EQ(csv_value(json("x,y")), "\"x,y\"");
    EXPECT_EQ(csv_value(json::parse(R"(["16K","64K"])")), R"("[""16K"",""64K""]")");
}

TEST(SweepMetrics, PointersSumsAndMissingValues) {
    const json stats = json::parse(R"({"pmu": {"L1D_TLB": 10}, "derived": {"walk_ratio": null},
                                       "kernel": {"tlbi": {"VAE1IS": 2, "VALE1IS": 3}, "barriers": {"ISB": 1}}})");
    const auto value = [&stats](const std::string& name) {
        for (const SweepMetric& m : sweep_metrics())
            if (m.name == name) return metric_value(stats, m);
        ADD_FAILURE() << "no metric " << name;
        return json();
    };
    EXPECT_EQ(value("L1D_TLB"), 10);
    EXPECT_EQ(value("tlbi"), 5);
    EXPECT_EQ(value("barriers"), 1);
    EXPECT_TRUE(value("walk_ratio").is_null());
    EXPECT_TRUE(value("cycles").is_null());  // missing from this document

    const json results = sweep_results(json::parse(R"([{"key": "seed", "values": [1]}])"),
                                       {SweepResultPoint{"p0000", json{{"seed", 1}}, stats}});
    const std::string csv = sweep_results_csv(results);
    EXPECT_EQ(csv.substr(0, csv.find('\n')).rfind("point,seed,records,INST_RETIRED,L1D_TLB,", 0), 0u) << csv;
    EXPECT_EQ(csv.substr(csv.find('\n') + 1).rfind("p0000,1,,,10,", 0), 0u) << csv;
    EXPECT_EQ(results["points"][0]["stats"], "points/p0000/stats.json");
    EXPECT_EQ(results["columns"].size(), sweep_metrics().size());
}

}  // namespace
}  // namespace mmusim::sim
