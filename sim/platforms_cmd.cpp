#include "sim/platforms_cmd.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <sstream>
#include <vector>

#include "sim/config.h"
#include "sim/output.h"

namespace mmusim::sim {

using nlohmann::json;

namespace {

json tlb_summary(const json& level) {
    return {{"entries", level["entries"]}, {"ways", level["ways"]}, {"sizes", level["sizes"]}, {"latency", level["latency"]}};
}

std::string yes_no(const json& v) { return v.get<bool>() ? "yes" : "no"; }

// "48 full" for a fully associative level, "1280 5-way" otherwise.
std::string geometry(const json& level) {
    const auto entries = level["entries"].get<std::uint64_t>();
    const auto ways = level["ways"].get<std::uint64_t>();
    std::ostringstream os;
    os << entries;
    if (entries == ways) os << " full";
    else os << ' ' << ways << "-way";
    return os.str();
}

// "64 4-way" (or "64 full"), "none" without a walk cache.
std::string walk_cache_cell(const json& wc) {
    if (wc["entries"].get<std::uint64_t>() == 0 || wc["levels"].empty()) return "none";
    return geometry(wc);
}

// "64K/1M/32M" and "4/11/105/330": L1D, L2, LLC sizes and their latencies with DRAM's.
std::string cache_sizes_cell(const json& c) {
    if (!c["enabled"].get<bool>()) return "off";
    return c["l1d"]["size"].get<std::string>() + "/" + c["l2"]["size"].get<std::string>() + "/" + c["llc"]["size"].get<std::string>();
}
std::string cache_latencies_cell(const json& c) {
    if (!c["enabled"].get<bool>()) return "-";
    std::string text;
    for (const char* level : {"l1d", "l2", "llc"}) text += std::to_string(c[level]["latency"].get<std::uint64_t>()) + "/";
    return text + std::to_string(c["dram_latency"].get<std::uint64_t>());
}

std::string size_list(const json& sizes) {
    std::string text;
    for (const json& s : sizes) {
        if (!text.empty()) text += ',';
        text += s.get<std::string>();
    }
    return text;
}

}  // namespace

json platforms_json() {
    json list = json::array();
    for (const std::string& name : platform_preset_names()) {
        const json p = load_platform_preset(name);
        const json& f = p["features"];
        list.push_back({{"name", name},
                        {"file", (std::filesystem::path(platform_dir()) / (name + ".json")).string()},
                        {"tlb",
                         {{"l1i", tlb_summary(p["tlb"]["l1i"])},
                          {"l1d", tlb_summary(p["tlb"]["l1d"])},
                          {"l2", tlb_summary(p["tlb"]["l2"])}}},
                        {"features",
                         {{"hafdbs", f["hafdbs"]},
                          {"tlbirange", f["tlbirange"]},
                          {"bbml2_noabort", f["bbml2_noabort"]},
                          {"conflict_abort", f["conflict_abort"]},
                          {"repeat_tlbi", f["repeat_tlbi"]},
                          {"erratum_2645198", f["erratum_2645198"]}}},
                        {"walk_cache", p["walk_cache"]},
                        {"caches", p["caches"]},
                        {"memory", {{"latency", p["memory"]["latency"]}, {"size", p["memory"]["size"]}}}});
    }
    return {{"folder", platform_dir()}, {"platforms", list}};
}

std::string platforms_table(const json& doc) {
    std::vector<std::vector<std::string>> table = {
        {"name", "L1D TLB", "L2 TLB", "L1D sizes", "L2 sizes", "tlbirange", "bbml2_noabort", "hafdbs", "walk cache",
         "L1D/L2/LLC", "cycles L1D/L2/LLC/DRAM", "memory latency"}};
    for (const json& p : doc["platforms"]) {
        const json& t = p["tlb"];
        const json& f = p["features"];
        table.push_back({p["name"].get<std::string>(), geometry(t["l1d"]), geometry(t["l2"]), size_list(t["l1d"]["sizes"]),
                         size_list(t["l2"]["sizes"]), yes_no(f["tlbirange"]), yes_no(f["bbml2_noabort"]), yes_no(f["hafdbs"]),
                         walk_cache_cell(p["walk_cache"]), cache_sizes_cell(p["caches"]), cache_latencies_cell(p["caches"]),
                         std::to_string(p["memory"]["latency"].get<std::uint64_t>())});
    }
    std::ostringstream os;
    os << text_table(table, false);
    if (doc["platforms"].empty()) os << "(no presets in " << doc["folder"].get<std::string>() << ")\n";
    return os.str();
}

}  // namespace mmusim::sim
