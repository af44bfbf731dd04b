#include "sim/schema.h"

#include <algorithm>
#include <optional>
#include <sstream>

#include "models/arch/sizes.h"
#include "models/common/text.h"
#include "sim/config_error.h"

namespace mmusim::sim {

using nlohmann::json;

namespace {

Field object(std::string name, std::string help, std::vector<Field> fields) {
    Field f;
    f.name = std::move(name);
    f.kind = FieldKind::Object;
    f.help = std::move(help);
    f.fields = std::move(fields);
    return f;
}
Field leaf(std::string name, FieldKind kind, json def, std::string help) {
    Field f;
    f.name = std::move(name);
    f.kind = kind;
    f.def = std::move(def);
    f.help = std::move(help);
    return f;
}
Field boolean(std::string name, bool def, std::string help) { return leaf(std::move(name), FieldKind::Bool, def, std::move(help)); }
Field integer(std::string name, json def, std::int64_t min, std::int64_t max, std::string help) {
    Field f = leaf(std::move(name), FieldKind::Integer, std::move(def), std::move(help));
    f.min = min;
    f.max = max;
    return f;
}
Field cycles(std::string name, std::int64_t def, std::string help) {
    return integer(std::move(name), def, 0, 1'000'000'000, std::move(help) + " (cycles)");
}
Field choice(std::string name, json def, std::vector<std::string> choices, std::string help) {
    Field f = leaf(std::move(name), FieldKind::Enum, std::move(def), std::move(help));
    f.choices = std::move(choices);
    return f;
}
Field optional(Field f) {
    f.optional = true;
    return f;
}

Field tlb_level(const std::string& name, std::int64_t entries, std::int64_t ways, json sizes, std::int64_t latency) {
    return object(name, "TLB level " + name,
                  {integer("entries", entries, 1, 1 << 20, "total entries"),
                   integer("ways", ways, 1, 1 << 20, "associativity (ways == entries: fully associative); must divide entries"),
                   leaf("sizes", FieldKind::SizeList, std::move(sizes), "entry sizes this level holds, in lookup order"),
                   integer("latency", latency, 0, 1000, "cycles per lookup, hit or miss"),
                   choice("replacement", "lru", {"lru"}, "replacement policy")});
}

Field integer_list(std::string name, json def, std::int64_t min, std::int64_t max, std::string help) {
    Field f = leaf(std::move(name), FieldKind::IntegerList, std::move(def), std::move(help));
    f.min = min;
    f.max = max;
    return f;
}

Field cache_level(const std::string& name, const std::string& help, const char* size, std::int64_t ways, std::int64_t latency) {
    return object(name, help,
                  {leaf("size", FieldKind::Size, size, "bytes; a multiple of line * ways"),
                   integer("ways", ways, 1, 1 << 16, "associativity (size / line: fully associative)"),
                   cycles("latency", latency, "load-to-use time of a read that hits here, not added to the levels above")});
}

// Defaults are the Neoverse N1's, as for the TLBs (platforms/neoverse-n1.json names the sources).
Field walk_cache_schema() {
    return object("walk_cache", "walk cache of each core: table descriptors of upper levels, tagged by ASID, level and VA",
                  {integer("entries", 64, 0, 1 << 16, "total entries; 0: no walk cache"),
                   integer("ways", 4, 1, 1 << 16, "associativity (ways == entries: fully associative); must divide entries"),
                   integer_list("levels", json::array({0, 1, 2}), 0, 2, "levels whose table descriptors are cached (0 to 2)"),
                   cycles("latency", 2, "one lookup, at the start of every walk, hit or miss")});
}

Field caches_schema() {
    return object("caches", "data caches that the walker's page-table reads go through",
                  {boolean("enabled", true, "false: every descriptor read of the walker costs memory.latency"),
                   integer("line", 64, 8, 4096, "bytes per cache line, a power of two"),
                   cache_level("l1d", "private L1 data cache of each core", "64K", 4, 4),
                   cache_level("l2", "private L2 cache of each core", "1M", 8, 11),
                   cache_level("llc", "last-level cache shared by all cores", "32M", 16, 105),
                   cycles("dram_latency", 330, "a read that misses every cache level")});
}

Field build_platform_schema() {
    const json l1_sizes = {"4K", "64K", "2M", "32M"};
    const json l2_sizes = {"4K", "64K", "2M", "32M", "1G"};
    Field p = object("platform", "a platform preset name, a path to a platform JSON file, or an inline platform object",
        {optional(leaf("preset", FieldKind::String, json(),
                       "start from this preset (a name in platforms/ or a file) and change only the keys given beside it")),
         leaf("name", FieldKind::String, "custom", "platform name"),
         leaf("description", FieldKind::String, "", "where the figures come from"),
         integer("cores", 1, 1, 256, "number of cores"),
         leaf("cpi", FieldKind::Number, 1.0,
              "cycles of the work between memory accesses, per instruction: each instruction fetch adds it to the "
              "core's time (0 to 100, in steps of 0.001)"),
         object("features", "architecture features",
                {boolean("hafdbs", true, "FEAT_HAFDBS: hardware access flag and dirty state management"),
                 boolean("tlbirange", false, "FEAT_TLBIRANGE: range TLBI instructions"),
                 boolean("bbml2_noabort", false, "BBML2 without conflict aborts (contpte converts skip their TLBI from v6.17)"),
                 boolean("honour_cont", true, "TLBs hold one entry for a contiguous block"),
                 boolean("conflict_abort", true, "a TLB conflict raises an abort; false: the smallest entry is used"),
                 boolean("repeat_tlbi", false, "ARM64_WORKAROUND_REPEAT_TLBI: one more TLBI + DSB.ISH at each completion"),
                 boolean("erratum_2645198", false, "ARM64_WORKAROUND_2645198: removing exec needs an immediate TLBI")}),
         object("tlb", "TLB levels of each core",
                {tlb_level("l1i", 48, 48, l1_sizes, 1), tlb_level("l1d", 48, 48, l1_sizes, 1),
                 tlb_level("l2", 1280, 5, l2_sizes, 5)}),
         walk_cache_schema(),
         caches_schema(),
         object("memory", "physical memory",
                {leaf("size", FieldKind::Size, "16G", "bytes of physical memory for page tables and folios"),
                 cycles("latency", 30, "latency of one page-table access by the kernel (and by the walker when caches.enabled is false)")}),
         cycles("quantum", 100000, "how far a core may run ahead of simulated time before synchronising"),
         object("costs", "kernel cost table",
                {cycles("fault_entry_exit", 700, "exception entry, fault dispatch and return"),
                 cycles("folio_alloc", 300, "one buddy allocation"),
                 cycles("zero_per_4k", 250, "clearing 4 KiB of a new folio"),
                 cycles("copy_per_4k", 400, "copying 4 KiB from an old folio into a new one (page migration's folio_copy, copy-on-write's copy_user_highpage)"),
                 cycles("swap_out_per_4k", 7000, "writing 4 KiB to the swap device (zram: LZ4 compression, about 2.5 us)"),
                 cycles("swap_in_per_4k", 2500, "reading 4 KiB from the swap device (zram: LZ4 decompression, about 1 us)"),
                 cycles("table_alloc", 500, "allocating and clearing a page-table page"),
                 cycles("atomic", 20, "extra cost of an exchange or compare-and-swap over a plain access"),
                 cycles("tlbi_local", 10, "one local TLBI"),
                 cycles("tlbi_broadcast", 100, "one broadcast (inner-shareable) TLBI"),
                 cycles("tlbi_broadcast_per_core", 20,
                        "completion of a broadcast TLBI, per other core: added to the DSB ISH that waits for it"),
                 cycles("dsb_ishst", 20, "DSB ISHST"), cycles("dsb_ish", 150, "DSB ISH"),
                 cycles("dsb_nshst", 5, "DSB NSHST"), cycles("dsb_nsh", 20, "DSB NSH"),
                 cycles("isb", 20, "ISB"),
                 cycles("syscall_entry_exit", 250, "system call entry (SVC), dispatch and return"),
                 cycles("context_switch", 2000, "switching the core to another process (scheduler and __switch_to)")})});
    return p;
}

Field build_config_schema() {
    Field generator = object("generator", "a synthetic address stream",
        {choice("pattern", json(), {"sequential", "strided", "uniform", "zipf"}, "access pattern"),
         leaf("base", FieldKind::Address, "0x10000000", "VA of the data region"),
         leaf("length", FieldKind::Size, json(), "bytes of the data region"),
         integer("count", json(), 1, std::numeric_limits<std::int64_t>::max(), "data accesses to generate"),
         leaf("stride", FieldKind::Size, 64, "strided: bytes between accesses"),
         integer("access_size", 8, 1, 4096, "bytes per access"),
         leaf("store_fraction", FieldKind::Number, 0.0, "probability that an access is a store, 0 to 1"),
         leaf("zipf_alpha", FieldKind::Number, 1.0, "zipf: skew, > 0"),
         leaf("zipf_item", FieldKind::Size, "4K", "zipf: bytes per ranked item"),
         leaf("code_base", FieldKind::Address, "0x400000", "VA of the code region"),
         leaf("code_length", FieldKind::Size, 0, "bytes of code; > 0 adds one instruction fetch before each access")});
    Field trace = object("trace", "a recorded memory trace",
        {leaf("path", FieldKind::String, json(), "trace file, relative to the config file"),
         choice("format", "lackey", {"lackey"}, "trace format"),
         choice("on_segv", "error", {"error", "count"},
                "layout trace: an access outside every mapping (or one its mapping forbids) ends the run with an error, or "
                "is counted (workload.segv) and skipped")});
    Field script = leaf("script", FieldKind::Json, json(),
        "a script of kernel calls and memory accesses: {\"allow_errors\": false, \"regions\": [...], \"ops\": [...]}");
    Field workload = object("workload", "what each core runs: exactly one of trace, generator and script",
        {optional(trace), optional(generator), optional(script),
         choice("layout", "auto", {"auto", "trace"},
                "address-space layout of traces and generators: auto (one anonymous mapping over all addresses), or trace (the "
                "mappings and system calls the trace recorded; a script starts with an empty address space and maps its own "
                "regions)"),
         integer("max_records", 0, 0, std::numeric_limits<std::int64_t>::max(),
                 "stop after this many records (0: all), counted per thread"),
         integer("threads", 1, 1, 256,
                 "threads of the process: a generator runs one stream per thread (thread t seeded with seed + t); a "
                 "script declares its threads in script.threads; a trace is one thread"),
         leaf("placement", FieldKind::Json, json::array(),
              "the core of each thread, e.g. [0, 2]; [] = thread t on core t; one thread per core")});
    Field kernel = object("kernel", "the Linux arm64 kernel model",
        {leaf("version", FieldKind::String, "6.17", "kernel behaviour era: a 6.x release from 6.9 to 6.19 (e.g. 6.9, 6.16, 6.17, 6.19) or current (the newest mm tree)"),
         choice("granule", "4K", {"4K", "16K", "64K"}, "translation granule"),
         boolean("contpte", true, "CONFIG_ARM64_CONTPTE: false = the kernel never sets PTE_CONT"),
         leaf("mthp", FieldKind::SizeList, json::array(),
              "anonymous folio sizes enabled below PMD size (sysfs enabled=always); [] = order 0 only"),
         leaf("mthp_madvise", FieldKind::SizeList, json::array(),
              "anonymous folio sizes below PMD size enabled only in MADV_HUGEPAGE VMAs (sysfs enabled=madvise)"),
         leaf("mthp_inherit", FieldKind::SizeList, json::array(),
              "anonymous folio sizes below PMD size that follow kernel.thp (sysfs enabled=inherit)"),
         choice("thp", "never", {"never", "always", "madvise"}, "PMD-sized anonymous THP"),
         boolean("zero_page", true, "read faults on anonymous memory map the shared zero page"),
         choice("lazy_mmu", "auto", {"auto", "none", "A", "B", "C", "D"},
                "lazy-MMU nesting semantics (kernel.md §4.4); auto: the version's (none before 6.16, B for 6.16-6.19, D for current)"),
         boolean("kpti", false, "kernel unmapped at EL0 (KPTI): every user TLBI is issued twice"),
         boolean("debug_pagealloc", false, "CONFIG_DEBUG_PAGEALLOC: page allocations and frees remap the linear map"),
         leaf("fault_around", FieldKind::Size, "64K", "fault_around_bytes of file read faults (the base page: off)"),
         object("swap", "the swap device that MADV_PAGEOUT writes anonymous memory to",
                {leaf("size", FieldKind::Size, "4G", "bytes of swap, a multiple of the PMD size, at most 64G; 0: no swap"),
                 choice("device", "zram", {"zram", "disk"},
                        "zram: SWP_SYNCHRONOUS_IO, swap-in skips the swap cache and reads large folios from v6.13; disk: "
                        "swap-in through the swap cache, one base page at a time")}),
         choice("fold_policy", "linux", {"linux", "any-entry", "after-batch", "scanner", "never"},
                "when blocks are folded: linux (a one-entry store at the block's last entry), any-entry, after-batch "
                "(also after a set_ptes batch leaves a block partly written), scanner (linux plus a background pass), never"),
         object("fold_scanner", "the background fold pass of fold_policy \"scanner\" (run on core 0, like khugepaged)",
                {integer("interval", 10000000, 1, std::numeric_limits<std::int64_t>::max(), "cycles between two passes"),
                 integer("pages", 4096, 1, std::numeric_limits<std::int64_t>::max(),
                         "PTE slots one pass advances over (khugepaged's pages_to_scan)"),
                 integer("entry_cycles", 2, 0, 1000000, "cycles to check one entry read, on top of the read itself")}),
         leaf("fragmentation", FieldKind::Number, 0.0,
              "0 to 1: chance that one buddy order is not available; an order-k folio allocation fails with probability "
              "1 - (1 - f)^k and falls back to the next enabled order (seeded by seed)"),
         leaf("exec_folios", FieldKind::String, "none",
              "folio size of executable memory: page-cache reads of exec file mappings and instruction-fetch faults on "
              "anonymous memory; none = the file's own folio size and the mTHP sizes"),
         leaf("file_folios", FieldKind::String, "base",
              "layout trace: the folio size of page-cache reads of the files a trace maps (readahead's large folios): base "
              "(the base page), or a size from the base page to below the PMD size; executable mappings follow exec_folios "
              "where it is set")});
    Field root = object("", "run config",
        {build_platform_schema(), kernel, workload,
         integer("seed", 1, 0, std::numeric_limits<std::int64_t>::max(), "seed of every random choice"),
         leaf("description", FieldKind::String, "", "what the config asks and what to look at; not used by the run")});
    root.fields[0].def = "neoverse-n1";
    return root;
}

[[noreturn]] void fail(const Origin& origin, const std::string& path, const std::string& what) {
    throw ConfigError(origin.where + ": " + path + ": " + what);
}

std::string join_keys(const Field& f) {
    std::string out;
    for (const Field& c : f.fields) out += (out.empty() ? "" : ", ") + c.name;
    return out;
}

std::string child_path(const std::string& path, const std::string& key) { return path.empty() ? key : path + "." + key; }

// "unknown key" for `key` below `field` (at `path`): the nearest known key, and the list.
[[noreturn]] void unknown_key(const Origin& origin, const Field& field, const std::string& path, const std::string& key) {
    if (field.kind != FieldKind::Object)
        throw ConfigError(origin.where + ": unknown key \"" + child_path(path, key) + "\"; " + path +
                          " is a value and has no keys below it.");
    std::vector<std::string> names;
    for (const Field& c : field.fields) names.push_back(c.name);
    throw ConfigError(origin.where + ": " + unknown_key_message(path, key, names));
}

const char* kSizeHelp = "a size such as 4K, 16K, 64K, 2M, 32M, 512M, 1G or 16G, or a whole number of bytes";

std::uint64_t size_value(const json& v, const Origin& origin, const std::string& path) {
    if (v.is_number_unsigned()) return v.get<std::uint64_t>();
    if (v.is_number_integer() && v.get<std::int64_t>() >= 0) return static_cast<std::uint64_t>(v.get<std::int64_t>());
    if (v.is_string()) {
        if (auto s = arch::parse_size(v.get<std::string>())) return *s;
        fail(origin, path, "\"" + v.get<std::string>() + "\" is not a size name; expected " + kSizeHelp);
    }
    fail(origin, path, "found " + json_shown(v) + " (" + json_type_name(v) + "); expected " + kSizeHelp);
}

void validate_leaf(json& v, const Field& f, const std::string& path, const Origin& origin) {
    switch (f.kind) {
        case FieldKind::Bool:
            if (!v.is_boolean()) fail(origin, path, "found " + json_shown(v) + " (" + json_type_name(v) + "); expected true or false (" + f.help + ")");
            return;
        case FieldKind::Integer: {
            if (!v.is_number_integer())
                fail(origin, path, "found " + json_shown(v) + " (" + json_type_name(v) + "); expected a whole number (" + f.help + ")");
            if (v.is_number_unsigned() && v.get<std::uint64_t>() > static_cast<std::uint64_t>(f.max))
                fail(origin, path, json_shown(v) + " is too large; allowed: " + std::to_string(f.min) + " to " + std::to_string(f.max));
            const std::int64_t n = v.get<std::int64_t>();
            if (n < f.min || n > f.max)
                fail(origin, path, json_shown(v) + " is out of range; allowed: " + std::to_string(f.min) + " to " + std::to_string(f.max) + " (" + f.help + ")");
            return;
        }
        case FieldKind::Number:
            if (!v.is_number()) fail(origin, path, "found " + json_shown(v) + " (" + json_type_name(v) + "); expected a number (" + f.help + ")");
            return;
        case FieldKind::String:
            if (!v.is_string()) fail(origin, path, "found " + json_shown(v) + " (" + json_type_name(v) + "); expected a string (" + f.help + ")");
            return;
        case FieldKind::Enum: {
            std::string allowed;
            for (const auto& c : f.choices) allowed += (allowed.empty() ? "" : ", ") + c;
            if (!v.is_string() || std::find(f.choices.begin(), f.choices.end(), v.get<std::string>()) == f.choices.end())
                fail(origin, path, "found " + json_shown(v) + "; allowed: " + allowed);
            return;
        }
        case FieldKind::Size:
            v = arch::size_name(size_value(v, origin, path));
            return;
        case FieldKind::Address: {
            std::uint64_t a = 0;
            if (v.is_number_unsigned() || (v.is_number_integer() && v.get<std::int64_t>() >= 0)) {
                a = v.get<std::uint64_t>();
            } else if (v.is_string()) {
                const std::string s = v.get<std::string>();
                const std::optional<std::uint64_t> parsed = arch::parse_address(s);
                if (parsed) a = *parsed;
                else fail(origin, path, "\"" + s + "\" is not an address; expected a hex string such as \"0x7f0000000000\" or a whole number");
            } else {
                fail(origin, path, "found " + json_shown(v) + " (" + json_type_name(v) + "); expected an address such as \"0x7f0000000000\"");
            }
            std::ostringstream os;
            os << "0x" << std::hex << a;
            v = os.str();
            return;
        }
        case FieldKind::SizeList: {
            if (!v.is_array()) fail(origin, path, "found " + json_shown(v) + " (" + json_type_name(v) + "); expected a list of sizes such as [\"4K\", \"64K\"]");
            for (std::size_t i = 0; i < v.size(); ++i) {
                const std::string ip = path + "[" + std::to_string(i) + "]";
                const std::uint64_t s = size_value(v[i], origin, ip);
                if (!arch::is_pow2(s) || s < 4096)
                    fail(origin, ip, json_shown(v[i]) + " is not a power-of-two size of at least 4K");
                v[i] = arch::size_name(s);
            }
            return;
        }
        case FieldKind::IntegerList: {
            if (!v.is_array())
                fail(origin, path, "found " + json_shown(v) + " (" + json_type_name(v) + "); expected a list of whole numbers (" + f.help + ")");
            for (std::size_t i = 0; i < v.size(); ++i) {
                const std::string ip = path + "[" + std::to_string(i) + "]";
                const bool whole = v[i].is_number_integer();
                const bool in_range = whole && !(v[i].is_number_unsigned() && v[i].get<std::uint64_t>() > static_cast<std::uint64_t>(f.max)) &&
                                      v[i].get<std::int64_t>() >= f.min && v[i].get<std::int64_t>() <= f.max;
                if (!in_range)
                    fail(origin, ip, "found " + json_shown(v[i]) + "; allowed: whole numbers " + std::to_string(f.min) + " to " +
                                         std::to_string(f.max) + " (" + f.help + ")");
            }
            return;
        }
        case FieldKind::Object:
        case FieldKind::Json:
            return;
    }
}

}  // namespace

const Field* Field::child(const std::string& key) const {
    for (const Field& f : fields)
        if (f.name == key) return &f;
    return nullptr;
}

const Field& platform_schema() {
    static const Field schema = build_platform_schema();
    return schema;
}

const Field& config_schema() {
    static const Field schema = build_config_schema();
    return schema;
}

void validate(json& value, const Field& field, const std::string& path, const Origin& origin) {
    if (field.kind != FieldKind::Object) {
        validate_leaf(value, field, path, origin);
        return;
    }
    if (!value.is_object())
        fail(origin, path.empty() ? "(top level)" : path,
             "found " + json_shown(value) + " (" + json_type_name(value) + "); expected an object with keys: " + join_keys(field));
    for (auto it = value.begin(); it != value.end(); ++it)
        if (field.child(it.key()) == nullptr) unknown_key(origin, field, path, it.key());
    for (const Field& c : field.fields) {
        const std::string cp = child_path(path, c.name);
        if (!value.contains(c.name)) {
            if (c.kind == FieldKind::Object && !c.optional) value[c.name] = json::object();
            else if (!c.def.is_null()) value[c.name] = c.def;
            else if (c.optional) continue;
            else fail(origin, cp, "is required (" + c.help + ")");
        }
        validate(value[c.name], c, cp, origin);
    }
}

const Field& field_at(const std::string& dotted, const Origin& origin) {
    const Field* f = &config_schema();
    std::string path;
    std::size_t start = 0;
    while (start <= dotted.size()) {
        const std::size_t dot = dotted.find('.', start);
        const std::string key = dotted.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
        const Field* next = f->kind == FieldKind::Object ? f->child(key) : nullptr;
        if (next == nullptr) unknown_key(origin, *f, path, key);
        path = child_path(path, key);
        f = next;
        if (dot == std::string::npos || f->kind == FieldKind::Json) break;
        start = dot + 1;
    }
    return *f;
}

}  // namespace mmusim::sim
