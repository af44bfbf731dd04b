#include "sim/config.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "models/arch/granule.h"
#include "models/arch/sizes.h"
#include "sim/config_error.h"
#include "sim/schema.h"

namespace mmusim::sim {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::uint64_t size_of(const json& v) { return *arch::parse_size(v.get<std::string>()); }
std::uint64_t address_of(const json& v) { return *arch::parse_address(v.get<std::string>()); }

[[noreturn]] void fail(const std::string& where, const std::string& what) { throw ConfigError(where + ": " + what); }

json load_platform(const std::string& spec, const fs::path& config_dir, const std::string& where) {
    fs::path file;
    const bool is_path = spec.find('/') != std::string::npos || (spec.size() > 5 && spec.ends_with(".json"));
    if (is_path) {
        file = fs::path(spec).is_absolute() ? fs::path(spec) : config_dir / spec;
        if (!fs::exists(file)) fail(where, "platform: the platform file \"" + file.string() + "\" does not exist");
    } else {
        file = fs::path(platform_dir()) / (spec + ".json");
        if (!fs::exists(file)) {
            std::string list;
            for (const auto& n : platform_preset_names()) list += (list.empty() ? "" : ", ") + n;
            fail(where, "platform: \"" + spec + "\" is not a platform preset; presets in " + platform_dir() + ": " +
                            (list.empty() ? "(none)" : list) + "; or give a path to a platform JSON file, or an inline object");
        }
    }
    json p = read_json_file(file.string());
    json copy = p;
    validate(copy, platform_schema(), "platform", Origin{file.string()});
    return p;
}

void set_path(json& doc, const std::string& dotted, const json& value) {
    json* node = &doc;
    std::size_t start = 0;
    for (;;) {
        const std::size_t dot = dotted.find('.', start);
        const std::string key = dotted.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
        if (!node->is_object()) *node = json::object();
        if (dot == std::string::npos) {
            (*node)[key] = value;
            return;
        }
        node = &(*node)[key];
        start = dot + 1;
    }
}

void check_tlb(const json& level, const std::string& path, const std::string& where) {
    const auto entries = level["entries"].get<std::int64_t>();
    const auto ways = level["ways"].get<std::int64_t>();
    if (entries % ways != 0)
        fail(where, path + ".ways: " + std::to_string(ways) + " does not divide entries (" + std::to_string(entries) +
                        "); ways must divide entries (sets = entries / ways)");
    if (level["sizes"].empty())
        fail(where, path + ".sizes: is empty; a TLB level must hold at least one entry size, e.g. [\"4K\", \"64K\"]");
}

mmu::TlbConfig tlb_config(const json& level, const std::string& name) {
    mmu::TlbConfig t;
    t.name = name;
    t.entries = level["entries"].get<std::uint32_t>();
    t.ways = level["ways"].get<std::uint32_t>();
    t.latency = level["latency"].get<std::uint32_t>();
    for (const json& s : level["sizes"]) t.sizes.push_back(size_of(s));
    return t;
}

void check_walk_cache(const json& wc, const std::string& where) {
    const auto entries = wc["entries"].get<std::int64_t>();
    const auto ways = wc["ways"].get<std::int64_t>();
    if (entries != 0 && entries % ways != 0)
        fail(where, "platform.walk_cache.ways: " + std::to_string(ways) + " does not divide entries (" + std::to_string(entries) +
                        "); ways must divide entries (sets = entries / ways), or entries is 0 for no walk cache");
    const json& levels = wc["levels"];
    for (std::size_t i = 0; i < levels.size(); ++i)
        for (std::size_t j = 0; j < i; ++j)
            if (levels[i] == levels[j])
                fail(where, "platform.walk_cache.levels[" + std::to_string(i) + "]: level " + levels[i].dump() +
                                " is listed twice; allowed: each of the table levels 0, 1, 2 at most once");
}

void check_caches(const json& c, const std::string& where) {
    const auto line = c["line"].get<std::uint64_t>();
    if (!arch::is_pow2(line))
        fail(where, "platform.caches.line: " + std::to_string(line) + " is not a power of two; allowed: 8, 16, 32, 64, 128 ... 4096 bytes");
    for (const char* level : {"l1d", "l2", "llc"}) {
        const json& l = c[level];
        const std::string path = std::string("platform.caches.") + level;
        const std::uint64_t size = size_of(l["size"]);
        const auto ways = l["ways"].get<std::uint64_t>();
        const std::uint64_t set_bytes = line * ways;
        if (size < set_bytes || size % set_bytes != 0)
            fail(where, path + ".size: " + l["size"].get<std::string>() + " is not a whole number of sets of line * ways (" +
                            std::to_string(line) + " * " + std::to_string(ways) + " = " + std::to_string(set_bytes) +
                            " bytes); allowed: a non-zero multiple of " + std::to_string(set_bytes) + " bytes");
    }
}

mmu::WalkCacheConfig walk_cache_config(const json& wc) {
    mmu::WalkCacheConfig w;
    w.entries = wc["entries"].get<std::uint32_t>();
    w.ways = wc["ways"].get<std::uint32_t>();
    w.latency = wc["latency"].get<std::uint32_t>();
    for (const json& level : wc["levels"]) w.level_mask = static_cast<std::uint8_t>(w.level_mask | (1u << level.get<unsigned>()));
    return w;
}

memory::CacheHierarchyConfig caches_config(const json& c) {
    memory::CacheHierarchyConfig h;
    h.enabled = c["enabled"].get<bool>();
    h.line = c["line"].get<std::uint32_t>();
    const auto level = [&](const char* name) {
        memory::LineCacheConfig l;
        l.size = size_of(c[name]["size"]);
        l.ways = c[name]["ways"].get<std::uint32_t>();
        l.latency = c[name]["latency"].get<std::uint32_t>();
        return l;
    };
    h.l1d = level("l1d");
    h.l2 = level("l2");
    h.llc = level("llc");
    h.dram_latency = c["dram_latency"].get<std::uint32_t>();
    return h;
}

// The checks of a schema-valid platform object that the schema cannot express.
void check_platform(const json& p, const std::string& where) {
    for (const char* level : {"l1i", "l1d", "l2"}) check_tlb(p["tlb"][level], std::string("platform.tlb.") + level, where);
    check_walk_cache(p["walk_cache"], where);
    check_caches(p["caches"], where);
}

// Threads and their cores (workload.threads, workload.placement), once the thread count is known.
void check_placement(RunConfig& rc, unsigned threads, const std::string& where) {
    WorkloadConfig& wc = rc.workload;
    const unsigned cores = rc.platform.cores;
    const json& given = rc.resolved["workload"]["threads"];
    if (given.get<unsigned>() != 1 && given.get<unsigned>() != threads)
        fail(where, "workload.threads: " + given.dump() + " does not match the script, which has " + std::to_string(threads) +
                        " thread(s) (the main ops and workload.script.threads); leave workload.threads out for scripts");
    rc.resolved["workload"]["threads"] = threads;
    if (threads > cores)
        fail(where, "workload.threads: " + std::to_string(threads) + " threads need as many cores, the platform has " +
                        std::to_string(cores) + "; allowed: at most platform.cores threads (one thread per core; set "
                        "platform.cores, e.g. --set platform.cores=" + std::to_string(threads) + ")");
    wc.threads = threads;
    const json& pl = rc.resolved["workload"]["placement"];
    if (!pl.is_array())
        fail(where, "workload.placement: found " + pl.dump() + "; expected a list of core numbers, one per thread, e.g. [0, 1]");
    if (pl.empty()) {
        for (unsigned t = 0; t < threads; ++t) wc.placement.push_back(t);
        rc.resolved["workload"]["placement"] = wc.placement;
        return;
    }
    if (pl.size() != threads)
        fail(where, "workload.placement: lists " + std::to_string(pl.size()) + " core(s) for " + std::to_string(threads) +
                        " thread(s); give one core per thread, or [] for thread t on core t");
    std::vector<bool> used(cores, false);
    for (std::size_t t = 0; t < pl.size(); ++t) {
        const std::string at = "workload.placement[" + std::to_string(t) + "]";
        if (!pl[t].is_number_unsigned() || pl[t].get<std::uint64_t>() >= cores)
            fail(where, at + ": found " + pl[t].dump() + "; allowed: a core number from 0 to " + std::to_string(cores - 1));
        const auto core = pl[t].get<unsigned>();
        if (used[core]) fail(where, at + ": core " + std::to_string(core) + " already runs another thread; one thread per core");
        used[core] = true;
        wc.placement.push_back(core);
    }
}

void check_and_convert(RunConfig& rc, const std::string& where) {
    const json& c = rc.resolved;
    const json& p = c["platform"];
    check_platform(p, where);

    const json& k = c["kernel"];
    const auto version = kernel::KernelVersion::parse(k["version"].get<std::string>());
    if (!version)
        fail(where, "kernel.version: \"" + k["version"].get<std::string>() +
                        "\" is not a modelled kernel version; allowed: a 6.x release from 6.9 to 6.19 as MAJOR.MINOR "
                        "(e.g. 6.9, 6.16, 6.17, 6.19), or \"current\" for the newest mm tree");
    arch::Granule granule = arch::Granule::K4;
    arch::parse_granule(k["granule"].get<std::string>(), granule);
    const arch::Geometry& geo = arch::geometry(granule);

    kernel::KernelConfig& kc = rc.kernel;
    kc.version = *version;
    kc.granule = granule;
    kc.contpte = k["contpte"].get<bool>();
    kc.zero_page = k["zero_page"].get<bool>();
    {
        const std::string thp = k["thp"].get<std::string>();  // the schema allows only these three
        kc.thp = thp == "always" ? kernel::KernelConfig::Thp::Always
                 : thp == "madvise" ? kernel::KernelConfig::Thp::Madvise
                                    : kernel::KernelConfig::Thp::Never;
    }
    kc.kpti = k["kpti"].get<bool>();
    kc.debug_pagealloc = k["debug_pagealloc"].get<bool>();
    {
        const std::string lazy = k["lazy_mmu"].get<std::string>();
        if (lazy == "auto") {
            // The era's semantics: none before the v6.16 batching, B through v6.19, the
            // generic layer (D) in the current tree.
            kc.lazy_mmu = !kc.version.at_least(6, 16) ? kernel::LazyMmuVariant::None
                          : kc.version.is_current()    ? kernel::LazyMmuVariant::D
                                                       : kernel::LazyMmuVariant::B;
        } else {
            kernel::parse_lazy_mmu_variant(lazy, kc.lazy_mmu);
        }
        const std::uint64_t fa = size_of(k["fault_around"]);
        if (!arch::is_pow2(fa) || fa < geo.page_size())
            fail(where, "kernel.fault_around: " + k["fault_around"].get<std::string>() +
                            " must be a power of two of at least the base page (" + arch::size_name(geo.page_size()) + ")");
        kc.fault_around_bytes = fa;
        const std::uint64_t swap = size_of(k["swap"]["size"]);
        if (swap % geo.pmd_size() != 0 || swap > (std::uint64_t{64} << 30))
            fail(where, "kernel.swap.size: " + arch::size_name(swap) + " is not allowed; allowed: 0 (no swap), or a multiple of " +
                            arch::size_name(geo.pmd_size()) + " (the PMD size of the granule, one swap cluster) up to 64G");
        kc.swap_bytes = swap;
        kc.swap_synchronous = k["swap"]["device"].get<std::string>() == "zram";
    }
    {
        // One list per sysfs mode of hugepages-<size>kB/enabled; a size has one mode only.
        struct ModeList {
            const char* key;
            std::vector<unsigned>* orders;
        };
        const ModeList modes[] = {{"mthp", &kc.mthp_orders}, {"mthp_madvise", &kc.mthp_madvise_orders},
                                  {"mthp_inherit", &kc.mthp_inherit_orders}};
        std::map<unsigned, std::string> seen;  // order -> "kernel.<key>[i]" that enabled it
        for (const ModeList& m : modes) {
            const json& list = k[m.key];
            for (std::size_t i = 0; i < list.size(); ++i) {
                const std::string at = std::string("kernel.") + m.key + "[" + std::to_string(i) + "]";
                const std::uint64_t size = size_of(list[i]);
                if (size <= geo.page_size() || size >= geo.pmd_size())
                    fail(where, at + ": " + list[i].get<std::string>() + " is not an mTHP size for the " +
                                    arch::granule_name(granule) + " granule; allowed: powers of two above " +
                                    arch::size_name(geo.page_size()) + " and below the PMD size " + arch::size_name(geo.pmd_size()));
                const unsigned order = arch::log2_exact(size) - geo.page_shift;
                const auto [it, fresh] = seen.emplace(order, at);
                if (!fresh && it->second.rfind(at.substr(0, at.find('[')) + "[", 0) != 0)
                    fail(where, at + ": " + list[i].get<std::string>() + " is also enabled by " + it->second +
                                    "; a size has one sysfs mode: list it in only one of kernel.mthp (always), "
                                    "kernel.mthp_madvise (madvise) and kernel.mthp_inherit (inherit)");
                m.orders->push_back(order);
            }
            std::sort(m.orders->begin(), m.orders->end());
            m.orders->erase(std::unique(m.orders->begin(), m.orders->end()), m.orders->end());
        }
    }
    kernel::parse_fold_policy(k["fold_policy"].get<std::string>(), kc.fold_policy);  // the schema allows only the names
    kc.fold_scanner.interval_cycles = k["fold_scanner"]["interval"].get<std::uint64_t>();
    kc.fold_scanner.pages_per_pass = k["fold_scanner"]["pages"].get<std::uint64_t>();
    kc.fold_scanner.entry_cycles = k["fold_scanner"]["entry_cycles"].get<std::uint64_t>();
    {
        const double f = k["fragmentation"].get<double>();
        if (!(f >= 0.0 && f <= 1.0))
            fail(where, "kernel.fragmentation: " + k["fragmentation"].dump() + " is outside the allowed range; allowed: 0 to 1");
        kc.fragmentation = f;
        const std::string exec = k["exec_folios"].get<std::string>();
        if (exec != "none") {
            const std::optional<std::uint64_t> size = arch::parse_size(exec);
            if (!size || !arch::is_pow2(*size) || *size < geo.page_size() || *size >= geo.pmd_size())
                fail(where, "kernel.exec_folios: \"" + exec + "\" is not allowed; allowed: none, or a power of two from the base page (" +
                                arch::size_name(geo.page_size()) + ") to below the PMD size (" + arch::size_name(geo.pmd_size()) + ")");
            kc.exec_folio_order = static_cast<int>(arch::log2_exact(*size) - geo.page_shift);
        }
        const std::string ff = k["file_folios"].get<std::string>();
        if (ff != "base") {
            const std::optional<std::uint64_t> size = arch::parse_size(ff);
            if (!size || !arch::is_pow2(*size) || *size < geo.page_size() || *size >= geo.pmd_size())
                fail(where, "kernel.file_folios: \"" + ff + "\" is not allowed; allowed: base, or a power of two from the base page (" +
                                arch::size_name(geo.page_size()) + ") to below the PMD size (" + arch::size_name(geo.pmd_size()) + ")");
            kc.file_folio_order = arch::log2_exact(*size) - geo.page_shift;
        }
    }

    platforms::PlatformConfig& pc = rc.platform;
    pc.name = p["name"].get<std::string>();
    pc.description = p["description"].get<std::string>();
    pc.cores = p["cores"].get<unsigned>();
    const json& f = p["features"];
    pc.features.hafdbs = f["hafdbs"].get<bool>();
    pc.features.tlbirange = f["tlbirange"].get<bool>();
    pc.features.bbml2_noabort = f["bbml2_noabort"].get<bool>();
    pc.features.honour_cont = f["honour_cont"].get<bool>();
    pc.features.conflict_abort = f["conflict_abort"].get<bool>();
    pc.features.repeat_tlbi = f["repeat_tlbi"].get<bool>();
    pc.features.erratum_2645198 = f["erratum_2645198"].get<bool>();
    pc.l1i = tlb_config(p["tlb"]["l1i"], "l1i");
    pc.l1d = tlb_config(p["tlb"]["l1d"], "l1d");
    pc.l2 = tlb_config(p["tlb"]["l2"], "l2");
    pc.walk_cache = walk_cache_config(p["walk_cache"]);
    pc.caches = caches_config(p["caches"]);
    pc.memory_size = size_of(p["memory"]["size"]);
    if (pc.memory_size < (std::uint64_t{64} << 20) || pc.memory_size % geo.pmd_size() != 0)
        fail(where, "platform.memory.size: " + p["memory"]["size"].get<std::string>() +
                        " is too small or not a multiple of the PMD size (" + arch::size_name(geo.pmd_size()) +
                        "); allowed: at least 64M, in whole PMDs");
    pc.memory_latency = p["memory"]["latency"].get<std::uint64_t>();
    pc.quantum = p["quantum"].get<std::uint64_t>();
    {
        const double cpi = p["cpi"].get<double>();
        if (!(cpi >= 0.0 && cpi <= 100.0))
            fail(where, "platform.cpi: " + p["cpi"].dump() + " is outside the allowed range; allowed: 0 to 100 cycles per instruction");
        pc.cpi_milli = static_cast<std::uint64_t>(std::llround(cpi * 1000.0));
    }
    const json& cost = p["costs"];
    kernel::KernelCosts& kcost = pc.costs;
    kcost.fault_entry_exit = cost["fault_entry_exit"].get<std::uint64_t>();
    kcost.folio_alloc = cost["folio_alloc"].get<std::uint64_t>();
    kcost.zero_per_4k = cost["zero_per_4k"].get<std::uint64_t>();
    kcost.copy_per_4k = cost["copy_per_4k"].get<std::uint64_t>();
    kcost.swap_out_per_4k = cost["swap_out_per_4k"].get<std::uint64_t>();
    kcost.swap_in_per_4k = cost["swap_in_per_4k"].get<std::uint64_t>();
    kcost.table_alloc = cost["table_alloc"].get<std::uint64_t>();
    kcost.atomic = cost["atomic"].get<std::uint64_t>();
    kcost.tlbi_local = cost["tlbi_local"].get<std::uint64_t>();
    kcost.tlbi_broadcast = cost["tlbi_broadcast"].get<std::uint64_t>();
    kcost.tlbi_broadcast_per_core = cost["tlbi_broadcast_per_core"].get<std::uint64_t>();
    kcost.dsb_ishst = cost["dsb_ishst"].get<std::uint64_t>();
    kcost.dsb_ish = cost["dsb_ish"].get<std::uint64_t>();
    kcost.dsb_nshst = cost["dsb_nshst"].get<std::uint64_t>();
    kcost.dsb_nsh = cost["dsb_nsh"].get<std::uint64_t>();
    kcost.isb = cost["isb"].get<std::uint64_t>();
    kcost.syscall_entry_exit = cost["syscall_entry_exit"].get<std::uint64_t>();
    kcost.context_switch = cost["context_switch"].get<std::uint64_t>();
    kc.memory_bytes = pc.memory_size;
    kc.cores = pc.cores;
    kc.tlbirange = pc.features.tlbirange;
    kc.bbml2_noabort = pc.features.bbml2_noabort;
    kc.hafdbs = pc.features.hafdbs;
    kc.repeat_tlbi = pc.features.repeat_tlbi;
    kc.erratum_2645198 = pc.features.erratum_2645198;
    kc.costs = kcost;

    rc.seed = c["seed"].get<std::uint64_t>();
    kc.seed = rc.seed;
    const json& w = c["workload"];
    std::vector<std::string> given;
    for (const char* kind : {"trace", "generator", "script"})
        if (w.contains(kind)) given.push_back(std::string("\"") + kind + "\"");
    if (given.size() != 1) {
        std::string found = given.empty() ? "has none of \"trace\", \"generator\" and \"script\"" : "has " + given[0];
        for (std::size_t i = 1; i < given.size(); ++i) found += (i + 1 == given.size() ? " and " : ", ") + given[i];
        fail(where, "workload: " + found +
                        "; give exactly one: a trace {\"path\": ..., \"format\": \"lackey\"}, a generator {\"pattern\": ...} or a "
                        "script {\"regions\": [...], \"ops\": [...]}");
    }
    WorkloadConfig& wc = rc.workload;
    wc.max_records = w["max_records"].get<std::uint64_t>();
    const bool layout_trace = w["layout"].get<std::string>() == "trace";
    if (layout_trace && !w.contains("trace"))
        fail(where, "workload.layout: \"trace\" builds the address space from a trace's recorded mappings and system "
                    "calls, and this workload is a " + std::string(w.contains("script") ? "script" : "generator") +
                    "; allowed with it: \"auto\"");
    if (w.contains("script")) {
        wc.is_script = true;
        kc.auto_layout = false;  // a script starts with an empty address space and maps its regions
        try {
            wc.script = std::make_shared<const workloads::Script>(workloads::parse_script(w["script"], "workload.script"));
        } catch (const workloads::ScriptError& e) {
            fail(where, e.what());
        }
        // A register for write-protect on a kernel without arm64 uffd-wp: Linux answers EINVAL
        // (the kernel model does too). Unless the script counts failures, say why now,
        // before the run, rather than stopping at the call.
        if (!kernel::pgtable_supports_uffd_wp(kc.version) && !wc.script->allow_errors)
            for (const kernel::Syscall& sc : wc.script->syscalls)
                if (sc.op == kernel::SyscallOp::UffdRegister && sc.uffd_wp)
                    fail(where, sc.origin + ".mode: \"wp\" asks for userfaultfd write-protect, which arm64 Linux has only "
                                            "from 6.10 (HAVE_ARCH_USERFAULTFD_WP); with kernel.version " +
                                    kc.version.name() +
                                    " UFFDIO_REGISTER answers EINVAL. Allowed: \"missing\" alone, kernel.version 6.10 or "
                                    "later, or workload.script.allow_errors true to count the EINVAL and go on");
        // The resolved config shows the defaults of the script's top level too.
        json& resolved = rc.resolved["workload"]["script"];
        if (!resolved.contains("allow_errors")) resolved["allow_errors"] = false;
        if (!resolved.contains("regions")) resolved["regions"] = json::array();
        check_placement(rc, 1 + static_cast<unsigned>(wc.script->threads.size()), where);
        return;
    }
    if (w.contains("trace")) {
        wc.is_trace = true;
        wc.layout_trace = layout_trace;
        wc.count_segv = w["trace"]["on_segv"].get<std::string>() == "count";
        if (layout_trace) kc.auto_layout = false;
        const fs::path tp = w["trace"]["path"].get<std::string>();
        wc.trace_path = (tp.is_absolute() ? tp : fs::path(rc.source).parent_path() / tp).lexically_normal().string();
        std::error_code ec;
        if (!fs::is_regular_file(wc.trace_path, ec))
            fail(where, "workload.trace.path: \"" + tp.string() + "\" (" + wc.trace_path + ") " +
                            (fs::exists(wc.trace_path, ec) ? "is not a regular file" : "does not exist") +
                            "; paths in a config are relative to the config file's folder");
        if (w["threads"].get<unsigned>() != 1)
            fail(where, "workload.threads: " + w["threads"].dump() +
                            "; a trace is the record of one thread, allowed: 1 (give a generator or a script for more threads)");
        check_placement(rc, 1, where);
        return;
    }
    const json& g = w["generator"];
    workloads::GeneratorParams& gp = wc.generator;
    const std::string pattern = g["pattern"].get<std::string>();
    gp.pattern = pattern == "sequential" ? workloads::Pattern::Sequential
                 : pattern == "strided"  ? workloads::Pattern::Strided
                 : pattern == "uniform"  ? workloads::Pattern::Uniform
                                         : workloads::Pattern::Zipf;
    gp.base = address_of(g["base"]);
    gp.length = size_of(g["length"]);
    gp.count = g["count"].get<std::uint64_t>();
    gp.stride = size_of(g["stride"]);
    gp.access_size = g["access_size"].get<std::uint32_t>();
    gp.store_fraction = g["store_fraction"].get<double>();
    gp.zipf_alpha = g["zipf_alpha"].get<double>();
    gp.zipf_item = size_of(g["zipf_item"]);
    gp.code_base = address_of(g["code_base"]);
    gp.code_length = size_of(g["code_length"]);
    gp.seed = rc.seed;
    check_placement(rc, w["threads"].get<unsigned>(), where);
    const std::string gpath = "workload.generator";
    if (gp.length < gp.access_size) fail(where, gpath + ".length: " + g["length"].get<std::string>() + " is smaller than access_size");
    if (gp.base < geo.page_size() || gp.base + gp.length > arch::kUserVaEnd || gp.base + gp.length < gp.base)
        fail(where, gpath + ".base: found " + g["base"].get<std::string>() + " with length " + g["length"].get<std::string>() +
                        "; the region [base, base + length) must lie inside the 48-bit user address space above the first page");
    if (gp.code_length != 0 && (gp.code_base < geo.page_size() || gp.code_base + gp.code_length > arch::kUserVaEnd))
        fail(where, gpath + ".code_base: found " + g["code_base"].get<std::string>() + " with code_length " +
                        g["code_length"].get<std::string>() +
                        "; the code region must lie inside the 48-bit user address space above the first page");
    if (gp.stride == 0) fail(where, gpath + ".stride: found " + g["stride"].get<std::string>() + "; allowed: 1 byte or more");
    if (!(gp.store_fraction >= 0.0 && gp.store_fraction <= 1.0))
        fail(where, gpath + ".store_fraction: " + g["store_fraction"].dump() + " is out of range; allowed: 0 to 1");
    if (!(gp.zipf_alpha > 0.0)) fail(where, gpath + ".zipf_alpha: " + g["zipf_alpha"].dump() + " must be above 0");
    if (gp.zipf_item < gp.access_size || gp.zipf_item > gp.length)
        fail(where, gpath + ".zipf_item: found " + g["zipf_item"].get<std::string>() + "; allowed: at least access_size (" +
                        std::to_string(gp.access_size) + ") and at most length (" + g["length"].get<std::string>() + ")");
    if (gp.pattern == workloads::Pattern::Zipf && gp.length / gp.zipf_item > workloads::kGeneratorMaxZipfItems)
        fail(where, gpath + ".zipf_item: found " + g["zipf_item"].get<std::string>() + ", which makes length / zipf_item " +
                        std::to_string(gp.length / gp.zipf_item) + " items, more than 2^32; use larger items");
    if (gp.code_length != 0 && gp.code_length < 4)
        fail(where, gpath + ".code_length: " + g["code_length"].get<std::string>() +
                        " is too small for one 4-byte instruction; allowed: 0 (no instruction fetches) or at least 4");
}

}  // namespace

std::string platform_dir() {
    if (const char* env = std::getenv("MMUSIM_PLATFORM_DIR"); env != nullptr && *env != '\0') return env;
    return std::string(MMUSIM_SOURCE_DIR) + "/platforms";
}

std::vector<std::string> platform_preset_names() {
    std::vector<std::string> names;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(platform_dir(), ec))
        if (e.path().extension() == ".json") names.push_back(e.path().stem().string());
    std::sort(names.begin(), names.end());
    return names;
}

json load_platform_preset(const std::string& name) {
    const std::string file = (fs::path(platform_dir()) / (name + ".json")).string();
    json p = load_platform(name, fs::path(), file);
    validate(p, platform_schema(), "platform", Origin{file});
    check_platform(p, file);
    return p;
}

json read_json_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw ConfigError(path + ": cannot be read (" + std::string(std::strerror(errno)) + ")");
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string text = ss.str();
    try {
        return json::parse(text);
    } catch (const json::parse_error& e) {
        std::size_t line = 1, col = 1;
        const std::size_t upto = std::min<std::size_t>(e.byte == 0 ? 0 : e.byte - 1, text.size());
        for (std::size_t i = 0; i < upto; ++i) {
            if (text[i] == '\n') { ++line; col = 1; } else { ++col; }
        }
        std::string what = e.what();
        if (const auto pos = what.find("syntax error"); pos != std::string::npos) what = what.substr(pos);
        throw ConfigError(path + ":" + std::to_string(line) + ":" + std::to_string(col) + ": not valid JSON: " + what +
                          " (comments and trailing commas are not allowed)");
    }
}

Override parse_override(const std::string& text, const std::string& option) {
    const std::size_t eq = text.find('=');
    if (eq == std::string::npos || eq == 0)
        throw ConfigError(option + " " + text + ": expected KEY=VALUE, e.g. --set platform.tlb.l2.ways=4");
    Override o;
    o.key = text.substr(0, eq);
    o.text = text;
    o.option = option;
    const std::string value = text.substr(eq + 1);
    try {
        o.value = json::parse(value);
    } catch (const json::parse_error&) {
        o.value = value;  // not JSON: a string
    }
    return o;
}

RunConfig load_config(const std::string& path, const std::vector<Override>& given) {
    // A value for a string key is the text as typed: --set kernel.version=6.10 means "6.10",
    // not the number 6.1.
    std::vector<Override> overrides = given;
    for (Override& o : overrides) {
        if (o.value.is_string()) continue;
        const Field& f = field_at(o.key, Origin{o.where()});
        if (f.kind == FieldKind::String || f.kind == FieldKind::Enum)
            o.value = o.text.substr(o.text.find('=') + 1);
    }
    RunConfig rc;
    rc.source = path;
    json doc = read_json_file(path);
    if (!doc.is_object()) fail(path, "the top level must be an object with keys: platform, kernel, workload, seed");
    const fs::path dir = fs::path(path).parent_path();

    // Overrides are checked against the schema one by one, so that a mistake names the option.
    for (const Override& o : overrides) {
        const Origin origin{o.where()};
        const Field& f = field_at(o.key, origin);
        json v = o.value;
        if (!(o.key == "platform" && v.is_string())) validate(v, f, o.key, origin);
    }
    // A new platform comes first; then the preset is expanded; then the other overrides apply
    // on top, so that --set platform.tlb.l2.ways=4 works with a preset too.
    std::string platform_origin = path;
    for (const Override& o : overrides) {
        if (o.key == "platform") {
            doc["platform"] = o.value;
        } else if (o.key == "platform.preset") {
            // Another preset under the config's own changes to its platform (if any).
            if (!doc.contains("platform") || !doc["platform"].is_object()) doc["platform"] = json::object();
            doc["platform"]["preset"] = o.value;
        } else {
            continue;
        }
        platform_origin = o.where();
    }
    if (!doc.contains("platform")) doc["platform"] = config_schema().child("platform")->def;
    if (doc["platform"].is_string())
        doc["platform"] = load_platform(doc["platform"].get<std::string>(), dir, platform_origin);
    else if (doc["platform"].is_object() && doc["platform"].contains("preset")) {
        // A preset with some keys changed: {"preset": "neoverse-n1", "cores": 4, "costs": {...}}.
        const json& name = doc["platform"]["preset"];
        if (!name.is_string())
            fail(platform_origin, "platform.preset: found " + name.dump() +
                                      "; expected the name of a preset in platforms/ or a path to a platform JSON file");
        json changes = doc["platform"];
        changes.erase("preset");
        json base = load_platform(name.get<std::string>(), dir, platform_origin);
        base.merge_patch(changes);
        doc["platform"] = std::move(base);
    }
    for (const Override& o : overrides)
        if (o.key != "platform" && o.key != "platform.preset") set_path(doc, o.key, o.value);

    const std::string where = overrides.empty() ? path : path + " (with --set overrides)";
    validate(doc, config_schema(), "", Origin{where});
    rc.resolved = doc;
    check_and_convert(rc, where);
    return rc;
}

}  // namespace mmusim::sim
