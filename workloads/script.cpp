#include "workloads/script.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <map>
#include <optional>
#include <sstream>

#include <nlohmann/json.hpp>

#include "models/arch/granule.h"
#include "models/arch/sizes.h"
#include "models/common/text.h"

namespace mmusim::workloads {

using nlohmann::json;

namespace {

constexpr std::uint64_t kLowestAddress = 4096;
constexpr std::uint64_t kLargestCount = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
const char* const kSizeHelp = "a size such as 4K, 64K, 2M or 1G, or a whole number of bytes";

using Names = std::vector<std::string>;

// ---- messages -------------------------------------------------------------------------

std::string found(const json& v) { return "found " + json_shown(v) + " (" + json_type_name(v) + ")"; }

std::string hex(std::uint64_t value) {
    std::ostringstream os;
    os << "0x" << std::hex << value;
    return os.str();
}

std::string in_quotes(const std::string& s) { return "\"" + s + "\""; }

std::string join(const Names& names) {
    std::string out;
    for (const std::string& n : names) out += (out.empty() ? "" : ", ") + n;
    return out;
}

[[noreturn]] void fail(const std::string& path, const std::string& what) { throw ScriptError(path + ": " + what); }

std::string key_path(const std::string& path, const std::string& key) { return path + "." + key; }
std::string item_path(const std::string& path, std::size_t i) { return path + "[" + std::to_string(i) + "]"; }

// "; allowed: a, b" or, when one of `names` is close to `key`, "; did you mean "a"? Allowed: a, b".
std::string listing(const Names& names, const std::string& key, std::string label, const std::string& list) {
    const std::string near = nearest_name(names, key);
    if (near.empty()) return "; " + label + ": " + list;
    label[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(label[0])));
    return "; did you mean " + in_quotes(near) + "? " + label + ": " + list;
}

[[noreturn]] void unknown_key(const std::string& path, const std::string& what, const Names& allowed, const std::string& key) {
    throw ScriptError(unknown_key_message(path, key, allowed, what));
}

bool contains(const Names& names, const std::string& key) { return std::find(names.begin(), names.end(), key) != names.end(); }

void check_keys(const json& obj, const std::string& path, const std::string& what, const Names& allowed) {
    for (auto it = obj.begin(); it != obj.end(); ++it)
        if (!contains(allowed, it.key())) unknown_key(path, what, allowed, it.key());
}

// ---- values ---------------------------------------------------------------------------

bool read_bool(const json& v, const std::string& path, const std::string& help) {
    if (!v.is_boolean()) fail(path, found(v) + "; expected true or false (" + help + ")");
    return v.get<bool>();
}

std::uint64_t read_uint(const json& v, const std::string& path, std::uint64_t min, std::uint64_t max, const std::string& help) {
    if (!v.is_number_integer()) fail(path, found(v) + "; expected a whole number (" + help + ")");
    const bool negative = !v.is_number_unsigned() && v.get<std::int64_t>() < 0;
    if (negative || v.get<std::uint64_t>() < min || v.get<std::uint64_t>() > max)
        fail(path, json_shown(v) + " is out of range; allowed: " + std::to_string(min) + " to " + std::to_string(max) + " (" + help + ")");
    return v.get<std::uint64_t>();
}

// Whole JSON numbers are signed or unsigned depending on where they came from.
bool is_whole_nonnegative(const json& v) {
    return v.is_number_unsigned() || (v.is_number_integer() && v.get<std::int64_t>() >= 0);
}

std::uint64_t read_size(const json& v, const std::string& path) {
    if (is_whole_nonnegative(v)) return v.get<std::uint64_t>();
    if (v.is_number_integer()) fail(path, json_shown(v) + " is negative; expected " + kSizeHelp);
    if (v.is_string()) {
        if (auto s = arch::parse_size(v.get<std::string>())) return *s;
        fail(path, in_quotes(v.get<std::string>()) + " is not a size name; expected " + kSizeHelp);
    }
    fail(path, found(v) + "; expected " + kSizeHelp);
}

std::uint64_t read_address(const json& v, const std::string& path) {
    if (is_whole_nonnegative(v)) return v.get<std::uint64_t>();
    if (v.is_string()) {
        const std::string s = v.get<std::string>();
        if (const std::optional<std::uint64_t> a = arch::parse_address(s)) return *a;
        fail(path, in_quotes(s) + " is not an address; expected a hex string such as \"0x20000000\" or a whole number");
    }
    fail(path, found(v) + "; expected an address such as \"0x20000000\"");
}

std::string read_string(const json& v, const std::string& path, const std::string& help) {
    if (!v.is_string()) fail(path, found(v) + "; expected a string (" + help + ")");
    if (v.get<std::string>().empty()) fail(path, "is empty; expected " + help);
    return v.get<std::string>();
}

std::size_t read_choice(const json& v, const std::string& path, const Names& choices) {
    if (v.is_string()) {
        const std::string s = v.get<std::string>();
        for (std::size_t i = 0; i < choices.size(); ++i)
            if (choices[i] == s) return i;
        fail(path, in_quotes(s) + " is not allowed" + listing(choices, s, "allowed", join(choices)));
    }
    fail(path, found(v) + "; allowed: " + join(choices));
}

unsigned read_prot(const json& v, const std::string& path) {
    const std::string allowed = "expected letters from \"rwx\", each at most once (e.g. \"r\", \"rw\", \"rx\"), or \"none\"";
    if (!v.is_string()) fail(path, found(v) + "; " + allowed);
    const std::string s = v.get<std::string>();
    if (s == "none") return 0;
    unsigned prot = 0;
    for (const char c : s) {
        const unsigned bit = c == 'r' ? kernel::kProtRead : c == 'w' ? kernel::kProtWrite : c == 'x' ? kernel::kProtExec : 0;
        if (bit == 0 || (prot & bit) != 0) fail(path, in_quotes(s) + " is not a protection; " + allowed);
        prot |= bit;
    }
    if (prot == 0) fail(path, "\"\" is not a protection; " + allowed);
    return prot;
}

// ---- the parser -----------------------------------------------------------------------

const Names kOpNames = {"mmap",   "munmap", "mprotect",   "madvise", "uffd_register", "uffd_unregister", "uffd_wp",
                        "reclaim", "fork",  "exit",       "kernel_map", "access",     "loop",            "spawn",
                        "numa_scan", "mremap", "migrate",   "checkpoint"};
const Names kRangeKeys = {"region", "offset", "size"};
const Names kMapTypes = {"anon", "file", "pfnmap", "huge_pfnmap"};
const Names kFileKeys = {"file", "file_offset", "file_folio"};
const Names kPfnKeys = {"pfn_offset"};
const Names kAdvice = {"dontneed", "free", "hugepage", "nohugepage", "dontfork", "dofork", "collapse", "pageout"};
const Names kPatterns = {"sequential", "strided", "random"};
const Names kKindNames = {"load", "store", "ifetch"};

Names keys_of(const Names& a, const Names& b = {}, const Names& c = {}) {
    Names out = {"op", "process"};
    for (const Names* part : {&a, &b, &c}) out.insert(out.end(), part->begin(), part->end());
    return out;
}

struct Range {
    std::uint64_t addr = 0;
    std::uint64_t size = 0;
};

class Parser {
public:
    explicit Parser(std::string base) : m_base(std::move(base)) {}

    Script parse(const json& doc);

private:
    void parse_regions(const json& v, const std::string& path);
    std::vector<ScriptOp> parse_ops(const json& v, const std::string& path, unsigned depth);
    ScriptOp parse_op(const json& v, const std::string& path, unsigned depth);
    ScriptOp parse_loop(const json& v, const std::string& path, unsigned depth);
    ScriptOp parse_access(const json& v, const std::string& path);
    ScriptOp parse_checkpoint(const json& v, const std::string& path);
    void parse_mmap(const json& v, const std::string& path, kernel::Syscall& sc);
    void parse_uffd_register(const json& v, const std::string& path, kernel::Syscall& sc);
    void parse_mix(const json& v, const std::string& path, ScriptAccess& a);

    // The region, offset and size keys of a range op (size omitted: the rest of the region).
    // With `dest_size`, the keys are "to" and "to_offset" and the range is that long.
    Range range(const json& v, const std::string& path, const std::uint64_t* dest_size = nullptr);
    unsigned process_named(const json& v, const std::string& path);
    unsigned new_child(const json& v, const std::string& path);
    unsigned file_named(const std::string& name);
    ScriptOp kernel_op(kernel::Syscall sc);

    void parse_thread_names(const json& v, const std::string& path);
    ScriptOp parse_spawn(const json& v, const std::string& path, unsigned depth);

    std::string m_base;
    Script m_script;
    std::map<std::string, unsigned> m_process_ids;  // children, by name
    std::map<std::string, unsigned> m_thread_ids;   // threads by name: 1, 2, ...
    std::vector<std::string> m_thread_names;
    std::vector<bool> m_spawned;                    // by thread index - 1
    bool m_in_thread = false;                       // parsing the ops of a thread other than the first
};

Script Parser::parse(const json& doc) {
    const Names keys = {"allow_errors", "regions", "ops", "threads"};
    if (!doc.is_object())
        fail(m_base, found(doc) + "; expected an object with keys: " + join(keys) + ", e.g. {\"regions\": [{\"name\": \"heap\", "
                     "\"size\": \"1M\"}], \"ops\": [{\"op\": \"mmap\", \"region\": \"heap\"}]}");
    check_keys(doc, m_base, "", keys);
    m_script.processes.push_back("main");
    if (doc.contains("allow_errors"))
        m_script.allow_errors = read_bool(doc["allow_errors"], key_path(m_base, "allow_errors"),
                                          "true: a kernel call that fails is counted; false: it stops the run");
    if (doc.contains("regions")) parse_regions(doc["regions"], key_path(m_base, "regions"));
    if (!doc.contains("ops"))
        fail(key_path(m_base, "ops"), "is required (the list of operations the script runs, e.g. [{\"op\": \"mmap\", \"region\": \"heap\"}])");
    // Thread names first, so that the main ops can spawn them.
    if (doc.contains("threads")) parse_thread_names(doc["threads"], key_path(m_base, "threads"));
    m_script.ops = parse_ops(doc["ops"], key_path(m_base, "ops"), 0);
    m_in_thread = true;
    for (std::size_t i = 0; i < m_script.threads.size(); ++i) {
        const std::string tp = item_path(key_path(m_base, "threads"), i);
        const json& t = doc["threads"][i];
        if (!t.contains("ops")) fail(key_path(tp, "ops"), "is required (the operations the thread runs)");
        m_script.threads[i].ops = parse_ops(t["ops"], key_path(tp, "ops"), 0);
        if (!m_spawned[i])
            fail(tp, "thread " + in_quotes(m_script.threads[i].name) + " is never started; add {\"op\": \"spawn\", \"thread\": " +
                         in_quotes(m_script.threads[i].name) + "} to the ops of the main thread");
    }
    return std::move(m_script);
}

void Parser::parse_thread_names(const json& v, const std::string& path) {
    const std::string example = "[{\"name\": \"worker\", \"ops\": [...]}]";
    if (!v.is_array()) fail(path, found(v) + "; expected a list of threads such as " + example);
    for (std::size_t i = 0; i < v.size(); ++i) {
        const std::string tp = item_path(path, i);
        const json& t = v[i];
        if (!t.is_object()) fail(tp, found(t) + "; expected a thread, an object such as {\"name\": \"worker\", \"ops\": [...]}");
        check_keys(t, tp, "a thread", {"name", "ops"});
        if (!t.contains("name")) fail(key_path(tp, "name"), "is required (the name that a spawn op gives as \"thread\")");
        const std::string name = read_string(t["name"], key_path(tp, "name"), "the thread's name");
        if (name == "main") fail(key_path(tp, "name"), "\"main\" is the first thread (the script's own ops); name this one otherwise");
        if (m_thread_ids.count(name) != 0) fail(key_path(tp, "name"), in_quotes(name) + " names two threads; thread names must differ");
        m_thread_ids[name] = static_cast<unsigned>(i + 1);
        m_thread_names.push_back(name);
        m_script.threads.push_back(ScriptThread{name, {}});
        m_spawned.push_back(false);
    }
}

ScriptOp Parser::parse_spawn(const json& v, const std::string& path, unsigned depth) {
    check_keys(v, path, "op spawn", {"op", "thread"});
    if (m_in_thread) fail(key_path(path, "op"), "a thread cannot spawn; spawn ops belong to the main thread's ops");
    if (depth != 0) fail(key_path(path, "op"), "spawn inside a loop would start its thread more than once; put it at the top level");
    if (!v.contains("thread")) fail(key_path(path, "thread"), "is required (the name of a thread in workload.script.threads)");
    const std::string name = read_string(v["thread"], key_path(path, "thread"), "the name of a thread");
    const auto it = m_thread_ids.find(name);
    const std::string known = m_thread_names.empty() ? "none (declare them in workload.script.threads)" : join(m_thread_names);
    if (it == m_thread_ids.end())
        fail(key_path(path, "thread"), in_quotes(name) + " is not a thread" + listing(m_thread_names, name, "threads", known));
    if (m_spawned[it->second - 1]) fail(key_path(path, "thread"), in_quotes(name) + " is already spawned; each thread starts once");
    m_spawned[it->second - 1] = true;
    kernel::Syscall sc;
    sc.origin = path;
    sc.op = kernel::SyscallOp::Spawn;
    sc.child = it->second;
    return kernel_op(std::move(sc));
}

void Parser::parse_regions(const json& v, const std::string& path) {
    if (!v.is_array())
        fail(path, found(v) + "; expected a list of regions such as [{\"name\": \"heap\", \"size\": \"1M\"}]");
    const Names keys = {"name", "size", "addr", "align", "offset"};
    std::vector<std::string> paths;
    std::uint64_t previous_end = 0;
    for (std::size_t i = 0; i < v.size(); ++i) {
        const std::string rp = item_path(path, i);
        const json& r = v[i];
        if (!r.is_object()) fail(rp, found(r) + "; expected an object such as {\"name\": \"heap\", \"size\": \"1M\"}");
        check_keys(r, rp, "a region", keys);
        ScriptRegion region;
        if (!r.contains("name")) fail(key_path(rp, "name"), "is required (the name that ops give as \"region\")");
        region.name = read_string(r["name"], key_path(rp, "name"), "a region name");
        for (std::size_t j = 0; j < m_script.regions.size(); ++j)
            if (m_script.regions[j].name == region.name)
                fail(key_path(rp, "name"), in_quotes(region.name) + " is already the name of " + paths[j] + "; region names must be unique");
        if (!r.contains("size")) fail(key_path(rp, "size"), "is required (bytes of the region: " + std::string(kSizeHelp) + ")");
        region.size = read_size(r["size"], key_path(rp, "size"));
        if (region.size == 0 || region.size >= arch::kUserVaEnd)
            fail(key_path(rp, "size"), json_shown(r["size"]) + " is out of range; a region holds at least 1 byte and less than 256T");
        if (r.contains("addr")) {
            for (const char* auto_key : {"align", "offset"})
                if (r.contains(auto_key))
                    fail(key_path(rp, auto_key), "applies to auto-placed regions only, and this region has a fixed \"addr\"; give one or the other");
            region.addr = read_address(r["addr"], key_path(rp, "addr"));
        } else {
            std::uint64_t align = kScriptDefaultAlign;
            if (r.contains("align")) {
                align = read_size(r["align"], key_path(rp, "align"));
                if (!arch::is_pow2(align) || align < 4096 || align >= arch::kUserVaEnd)
                    fail(key_path(rp, "align"), json_shown(r["align"]) + " is not a power-of-two size of at least 4K (and below 256T)");
            }
            std::uint64_t offset = 0;
            if (r.contains("offset")) {
                offset = read_size(r["offset"], key_path(rp, "offset"));
                if (offset >= arch::kUserVaEnd) fail(key_path(rp, "offset"), json_shown(r["offset"]) + " is past the user address space (256T)");
            }
            // Every term is below 2^48, so none of the sums can wrap.
            const std::uint64_t lowest = std::max(kScriptFirstRegion, previous_end + kScriptRegionGap);
            region.addr = ((lowest + align - 1) & ~(align - 1)) + offset;
        }
        if (region.addr < kLowestAddress || region.addr >= arch::kUserVaEnd || region.size > arch::kUserVaEnd - region.addr)
            fail(rp, in_quotes(region.name) + " at [" + hex(region.addr) + ", " + hex(region.addr + region.size) +
                         ") does not lie in the user address space [0x1000, 0x1000000000000)");
        for (std::size_t j = 0; j < m_script.regions.size(); ++j) {
            const ScriptRegion& other = m_script.regions[j];
            if (region.addr < other.addr + other.size && other.addr < region.addr + region.size)
                fail(rp, in_quotes(region.name) + " [" + hex(region.addr) + ", " + hex(region.addr + region.size) + ") overlaps " +
                             in_quotes(other.name) + " [" + hex(other.addr) + ", " + hex(other.addr + other.size) + ") (" + paths[j] +
                             "); regions must not overlap");
        }
        previous_end = region.addr + region.size;
        m_script.regions.push_back(region);
        paths.push_back(rp);
    }
}

std::vector<ScriptOp> Parser::parse_ops(const json& v, const std::string& path, unsigned depth) {
    if (!v.is_array()) fail(path, found(v) + "; expected a list of operations such as [{\"op\": \"mmap\", \"region\": \"heap\"}]");
    std::vector<ScriptOp> ops;
    ops.reserve(v.size());
    for (std::size_t i = 0; i < v.size(); ++i) ops.push_back(parse_op(v[i], item_path(path, i), depth));
    return ops;
}

ScriptOp Parser::kernel_op(kernel::Syscall sc) {
    ScriptOp op;
    op.kind = ScriptOp::Kind::Kernel;
    op.index = m_script.syscalls.size();
    m_script.syscalls.push_back(std::move(sc));
    return op;
}

ScriptOp Parser::parse_op(const json& v, const std::string& path, unsigned depth) {
    if (!v.is_object()) fail(path, found(v) + "; expected an operation, an object such as {\"op\": \"mmap\", \"region\": \"heap\"}");
    if (!v.contains("op")) fail(key_path(path, "op"), "is required (the operation: " + join(kOpNames) + ")");
    const json& name_value = v["op"];
    if (!name_value.is_string()) fail(key_path(path, "op"), found(name_value) + "; expected an operation name: " + join(kOpNames));
    const std::string name = name_value.get<std::string>();
    if (!contains(kOpNames, name))
        fail(key_path(path, "op"), in_quotes(name) + " is not an operation" + listing(kOpNames, name, "allowed", join(kOpNames)));
    const std::string what = "op " + name;

    if (name == "spawn") return parse_spawn(v, path, depth);
    if (m_in_thread) {
        // The other threads belong to the main process and do not fork or exit it.
        if (name == "fork" || name == "exit")
            fail(key_path(path, "op"), in_quotes(name) + " is for the main thread; a thread's ops may not fork or exit");
        if (v.contains("process"))
            fail(key_path(path, "process"), "a thread runs in the main process; \"process\" is not allowed in its ops");
    }
    if (name == "loop") return parse_loop(v, path, depth);
    if (name == "access") return parse_access(v, path);
    if (name == "checkpoint") return parse_checkpoint(v, path);

    kernel::Syscall sc;
    sc.origin = path;
    if (name == "mmap") {
        parse_mmap(v, path, sc);
        return kernel_op(std::move(sc));
    }
    if (name == "fork") {
        check_keys(v, path, what, keys_of({"child"}));
        sc.op = kernel::SyscallOp::Fork;
        sc.process = v.contains("process") ? process_named(v["process"], key_path(path, "process")) : 0;
        if (!v.contains("child")) fail(key_path(path, "child"), "is required (the name of the new process, e.g. \"child\")");
        sc.child = new_child(v["child"], key_path(path, "child"));
        return kernel_op(std::move(sc));
    }
    if (name == "exit") {
        check_keys(v, path, what, keys_of({}));
        sc.op = kernel::SyscallOp::Exit;
        if (!v.contains("process")) fail(key_path(path, "process"), "is required (the child process that exits)");
        sc.process = process_named(v["process"], key_path(path, "process"));
        if (sc.process == 0)
            fail(key_path(path, "process"), "\"main\" cannot exit: the run ends when the script ends; exit takes a child named by a fork");
        return kernel_op(std::move(sc));
    }
    if (name == "kernel_map") {
        check_keys(v, path, what, keys_of({"pages", "interrupt"}));
        sc.op = kernel::SyscallOp::KernelMap;
        sc.process = v.contains("process") ? process_named(v["process"], key_path(path, "process")) : 0;
        if (!v.contains("pages")) fail(key_path(path, "pages"), "is required (kernel PTEs to update, at least 1)");
        sc.pages = read_uint(v["pages"], key_path(path, "pages"), 1, kLargestCount, "kernel PTEs to update");
        if (v.contains("interrupt"))
            sc.in_interrupt = read_bool(v["interrupt"], key_path(path, "interrupt"), "run the update from interrupt context");
        return kernel_op(std::move(sc));
    }

    // The calls over a range of a region.
    Names extra;
    if (name == "mprotect") extra = {"prot"};
    else if (name == "madvise") extra = {"advice"};
    else if (name == "uffd_register") extra = {"mode", "async", "wp_unpopulated"};
    else if (name == "uffd_wp") extra = {"protect"};
    else if (name == "mremap") extra = {"to", "to_offset"};
    check_keys(v, path, what, keys_of(kRangeKeys, extra));
    sc.process = v.contains("process") ? process_named(v["process"], key_path(path, "process")) : 0;
    const Range r = range(v, path);
    sc.addr = r.addr;
    sc.len = r.size;
    if (name == "munmap") {
        sc.op = kernel::SyscallOp::Munmap;
    } else if (name == "mprotect") {
        sc.op = kernel::SyscallOp::Mprotect;
        if (!v.contains("prot")) fail(key_path(path, "prot"), "is required (the new protection: letters from \"rwx\", or \"none\")");
        sc.prot = read_prot(v["prot"], key_path(path, "prot"));
    } else if (name == "madvise") {
        sc.op = kernel::SyscallOp::Madvise;
        if (!v.contains("advice")) fail(key_path(path, "advice"), "is required (one of: " + join(kAdvice) + ")");
        static constexpr kernel::Advice kAdviceValues[] = {kernel::Advice::DontNeed,   kernel::Advice::Free,
                                                           kernel::Advice::HugePage,   kernel::Advice::NoHugePage,
                                                           kernel::Advice::DontFork,   kernel::Advice::DoFork,
                                                           kernel::Advice::Collapse,   kernel::Advice::PageOut};
        static_assert(std::size(kAdviceValues) == 8, "one advice value per name of kAdvice");
        sc.advice = kAdviceValues[read_choice(v["advice"], key_path(path, "advice"), kAdvice)];
    } else if (name == "uffd_register") {
        parse_uffd_register(v, path, sc);
    } else if (name == "uffd_unregister") {
        sc.op = kernel::SyscallOp::UffdUnregister;
    } else if (name == "uffd_wp") {
        sc.op = kernel::SyscallOp::UffdWriteprotect;
        if (v.contains("protect"))
            sc.protect = read_bool(v["protect"], key_path(path, "protect"), "true sets write protection, false clears it");
    } else if (name == "numa_scan") {
        sc.op = kernel::SyscallOp::NumaScan;
    } else if (name == "mremap") {
        sc.op = kernel::SyscallOp::Mremap;
        sc.new_addr = range(v, path, &r.size).addr;
    } else if (name == "migrate") {
        sc.op = kernel::SyscallOp::Migrate;
    } else {
        sc.op = kernel::SyscallOp::Reclaim;
    }
    return kernel_op(std::move(sc));
}

void Parser::parse_mmap(const json& v, const std::string& path, kernel::Syscall& sc) {
    sc.op = kernel::SyscallOp::Mmap;
    std::size_t type = 0;
    if (v.contains("type")) type = read_choice(v["type"], key_path(path, "type"), kMapTypes);
    static constexpr kernel::MapKind kMapKinds[] = {kernel::MapKind::Anon, kernel::MapKind::File, kernel::MapKind::Pfnmap,
                                                 kernel::MapKind::HugePfnmap};
    sc.kind = kMapKinds[type];
    const bool is_file = sc.kind == kernel::MapKind::File;
    const bool is_pfn = sc.kind == kernel::MapKind::Pfnmap || sc.kind == kernel::MapKind::HugePfnmap;
    const Names allowed = keys_of(kRangeKeys, {"type", "shared", "prot"}, is_file ? kFileKeys : is_pfn ? kPfnKeys : Names{});
    const std::string type_text = in_quotes(kMapTypes[type]) + (v.contains("type") ? "" : " (the default)");
    for (auto it = v.begin(); it != v.end(); ++it) {
        if (contains(allowed, it.key())) continue;
        if (contains(kFileKeys, it.key()))
            fail(key_path(path, it.key()), "only an mmap of type \"file\" takes " + in_quotes(it.key()) + "; this mmap is of type " + type_text);
        if (contains(kPfnKeys, it.key()))
            fail(key_path(path, it.key()),
                 "only an mmap of type \"pfnmap\" or \"huge_pfnmap\" takes " + in_quotes(it.key()) + "; this mmap is of type " + type_text);
        unknown_key(path, "op mmap of type " + kMapTypes[type], allowed, it.key());
    }
    sc.process = v.contains("process") ? process_named(v["process"], key_path(path, "process")) : 0;
    const Range r = range(v, path);
    sc.addr = r.addr;
    sc.len = r.size;
    if (v.contains("shared")) sc.shared = read_bool(v["shared"], key_path(path, "shared"), "MAP_SHARED; false: MAP_PRIVATE");
    if (v.contains("prot")) sc.prot = read_prot(v["prot"], key_path(path, "prot"));
    if (is_file) {
        if (!v.contains("file")) fail(key_path(path, "file"), "is required for an mmap of type \"file\" (a file name, e.g. \"data\")");
        sc.file = file_named(read_string(v["file"], key_path(path, "file"), "a file name"));
        if (v.contains("file_offset")) sc.file_offset = read_size(v["file_offset"], key_path(path, "file_offset"));
        if (v.contains("file_folio")) {
            sc.file_folio = read_size(v["file_folio"], key_path(path, "file_folio"));
            if (sc.file_folio != 0 && (!arch::is_pow2(sc.file_folio) || sc.file_folio < 4096))
                fail(key_path(path, "file_folio"), json_shown(v["file_folio"]) +
                                                       " is not a folio size; allowed: 0 (base pages) or a power of two of at least 4K");
        }
    }
    if (is_pfn && v.contains("pfn_offset")) sc.pfn_offset = read_size(v["pfn_offset"], key_path(path, "pfn_offset"));
}

void Parser::parse_uffd_register(const json& v, const std::string& path, kernel::Syscall& sc) {
    sc.op = kernel::SyscallOp::UffdRegister;
    const std::string mp = key_path(path, "mode");
    const std::string modes = "a list of modes from \"missing\" and \"wp\", e.g. [\"missing\"] or [\"missing\", \"wp\"]";
    const std::string expected = "expected " + modes;
    if (!v.contains("mode")) fail(mp, "is required (" + modes + ")");
    const json& mode = v["mode"];
    if (!mode.is_array()) fail(mp, found(mode) + "; " + expected);
    if (mode.empty()) fail(mp, "is empty; " + expected);
    for (std::size_t i = 0; i < mode.size(); ++i) {
        const bool wp = read_choice(mode[i], item_path(mp, i), {"missing", "wp"}) == 1;
        bool& flag = wp ? sc.uffd_wp : sc.uffd_missing;
        if (flag) fail(item_path(mp, i), json_shown(mode[i]) + " is given twice; " + expected);
        flag = true;
    }
    if (v.contains("async")) {
        sc.uffd_async = read_bool(v["async"], key_path(path, "async"), "UFFD_FEATURE_WP_ASYNC: write faults resolve in the kernel");
        if (sc.uffd_async && !sc.uffd_wp)
            fail(key_path(path, "async"), "true needs \"wp\" in mode: UFFD_FEATURE_WP_ASYNC applies to write-protect registrations");
    }
    if (v.contains("wp_unpopulated")) {
        sc.uffd_wp_unpopulated = read_bool(v["wp_unpopulated"], key_path(path, "wp_unpopulated"),
                                           "UFFD_FEATURE_WP_UNPOPULATED: markers on none entries");
        if (sc.uffd_wp_unpopulated && !sc.uffd_wp)
            fail(key_path(path, "wp_unpopulated"),
                 "true needs \"wp\" in mode: UFFD_FEATURE_WP_UNPOPULATED applies to write-protect registrations");
    }
}

ScriptOp Parser::parse_loop(const json& v, const std::string& path, unsigned depth) {
    if (v.contains("process"))
        fail(key_path(path, "process"), "a loop takes no process; give \"process\" to the ops of its body");
    check_keys(v, path, "op loop", {"op", "count", "ops"});
    if (depth >= kScriptMaxLoopDepth)
        fail(path, "loops nest more than " + std::to_string(kScriptMaxLoopDepth) + " deep; allowed: at most " +
                       std::to_string(kScriptMaxLoopDepth) + " loops inside one another");
    ScriptOp op;
    op.kind = ScriptOp::Kind::Loop;
    op.origin = path;
    if (!v.contains("count")) fail(key_path(path, "count"), "is required (passes through the loop body, 0 or more)");
    op.count = read_uint(v["count"], key_path(path, "count"), 0, kLargestCount, "passes through the loop body");
    if (!v.contains("ops")) fail(key_path(path, "ops"), "is required (the loop body, a list of operations)");
    op.body = parse_ops(v["ops"], key_path(path, "ops"), depth + 1);
    op.yields = op.count > 0 && std::any_of(op.body.begin(), op.body.end(), [](const ScriptOp& o) {
                    return o.kind != ScriptOp::Kind::Loop || o.yields;
                });
    return op;
}

ScriptOp Parser::parse_checkpoint(const json& v, const std::string& path) {
    if (m_in_thread) fail(key_path(path, "op"), "a checkpoint belongs to the main thread's ops (it records every process at once)");
    if (v.contains("process"))
        fail(key_path(path, "process"), "a checkpoint takes no process; it records the pages of every running process");
    check_keys(v, path, "op checkpoint", {"op", "name"});
    if (!v.contains("name")) fail(key_path(path, "name"), "is required (a name for the moment, e.g. \"after-fault\")");
    const std::string name = read_string(v["name"], key_path(path, "name"), "a name for the moment, e.g. \"after-fault\"");
    for (const ScriptCheckpoint& c : m_script.checkpoints)
        if (c.name == name) fail(key_path(path, "name"), in_quotes(name) + " is already the name of " + c.origin + "; checkpoint names must be unique");
    ScriptOp op;
    op.kind = ScriptOp::Kind::Checkpoint;
    op.index = m_script.checkpoints.size();
    m_script.checkpoints.push_back(ScriptCheckpoint{name, path});
    return op;
}

ScriptOp Parser::parse_access(const json& v, const std::string& path) {
    check_keys(v, path, "op access", keys_of(kRangeKeys, {"pattern", "access_size", "stride", "count", "mix"}));
    ScriptAccess a;
    a.origin = path;
    a.process = static_cast<std::uint8_t>(v.contains("process") ? process_named(v["process"], key_path(path, "process")) : 0);
    const Range r = range(v, path);
    a.base = r.addr;
    a.size = r.size;
    if (v.contains("pattern")) a.pattern = static_cast<ScriptPattern>(read_choice(v["pattern"], key_path(path, "pattern"), kPatterns));
    if (v.contains("access_size"))
        a.access_size = static_cast<std::uint32_t>(
            read_uint(v["access_size"], key_path(path, "access_size"), 1, kScriptMaxAccessSize, "bytes per access"));
    if (a.size < a.access_size)
        fail(key_path(path, "access_size"), std::to_string(a.access_size) + " bytes do not fit in the range of " +
                                                arch::size_name(a.size) + " bytes; the range must hold at least one access");
    const std::string sp = key_path(path, "stride");
    if (a.pattern == ScriptPattern::Random) {
        if (v.contains("stride")) fail(sp, "a random pattern takes no stride (only sequential and strided do)");
    } else if (v.contains("stride")) {
        a.stride = read_size(v["stride"], sp);
        if (a.stride == 0) fail(sp, "0 is not a stride; allowed: at least 1 byte");
    } else if (a.pattern == ScriptPattern::Strided) {
        fail(sp, "is required for a strided pattern (bytes between accesses: " + std::string(kSizeHelp) + ")");
    } else {
        a.stride = a.access_size;
    }
    const std::string cp = key_path(path, "count");
    if (v.contains("count")) {
        a.count = read_uint(v["count"], cp, 1, kLargestCount, "accesses to make");
    } else if (a.pattern == ScriptPattern::Random) {
        fail(cp, "is required for a random pattern (accesses to make, at least 1)");
    } else {
        a.count = a.size / a.stride + (a.size % a.stride != 0 ? 1 : 0);
    }
    if (v.contains("mix")) parse_mix(v["mix"], key_path(path, "mix"), a);
    ScriptOp op;
    op.kind = ScriptOp::Kind::Access;
    op.index = m_script.accesses.size();
    m_script.accesses.push_back(std::move(a));
    return op;
}

void Parser::parse_mix(const json& v, const std::string& path, ScriptAccess& a) {
    static constexpr AccessKind kKindValues[] = {AccessKind::Load, AccessKind::Store, AccessKind::Ifetch};
    const std::string expected = "expected \"load\", \"store\", \"ifetch\" or an object of fractions such as {\"load\": 0.7, \"store\": 0.3}";
    if (v.is_string()) {
        a.kinds[0] = kKindValues[read_choice(v, path, kKindNames)];
        a.kind_count = 1;
        return;
    }
    if (!v.is_object()) fail(path, found(v) + "; " + expected);
    check_keys(v, path, "fractions of the access kinds", kKindNames);
    double weights[3] = {0.0, 0.0, 0.0};
    double total = 0.0;
    for (std::size_t i = 0; i < kKindNames.size(); ++i) {
        if (!v.contains(kKindNames[i])) continue;
        const json& w = v[kKindNames[i]];
        const std::string wp = key_path(path, kKindNames[i]);
        if (!w.is_number()) fail(wp, found(w) + "; expected a fraction, a number of at least 0");
        weights[i] = w.get<double>();
        if (!(weights[i] >= 0.0) || !std::isfinite(weights[i])) fail(wp, json_shown(w) + " is out of range; allowed: a number of at least 0");
        total += weights[i];
    }
    if (!(total > 0.0) || !std::isfinite(total)) fail(path, "the fractions sum to " + json_shown(json(total)) + "; they must sum to more than 0");
    a.kind_count = 0;
    double cumulative = 0.0;
    for (std::size_t i = 0; i < 3; ++i) {
        if (weights[i] == 0.0) continue;
        cumulative += weights[i] / total;
        a.kinds[a.kind_count] = kKindValues[i];
        a.bounds[a.kind_count] = cumulative;
        ++a.kind_count;
    }
    a.bounds[a.kind_count - 1] = 1.0;  // no draw falls past the last kind by rounding
}

Range Parser::range(const json& v, const std::string& path, const std::uint64_t* dest_size) {
    const char* region_key = dest_size != nullptr ? "to" : "region";
    const char* offset_key = dest_size != nullptr ? "to_offset" : "offset";
    const std::string rp = key_path(path, region_key);
    Names declared;
    for (const ScriptRegion& r : m_script.regions) declared.push_back(r.name);
    const std::string listed = declared.empty() ? "none (declare regions in " + key_path(m_base, "regions") + ")" : join(declared);
    if (!v.contains(region_key)) fail(rp, "is required (the name of a declared region; declared: " + listed + ")");
    const json& name_value = v[region_key];
    if (!name_value.is_string()) fail(rp, found(name_value) + "; expected the name of a declared region; declared: " + listed);
    const std::string name = name_value.get<std::string>();
    const auto it = std::find_if(m_script.regions.begin(), m_script.regions.end(), [&](const ScriptRegion& r) { return r.name == name; });
    if (it == m_script.regions.end()) fail(rp, in_quotes(name) + " is not a declared region" + listing(declared, name, "declared", listed));
    const ScriptRegion& region = *it;
    std::uint64_t offset = 0;
    if (v.contains(offset_key)) {
        offset = read_size(v[offset_key], key_path(path, offset_key));
        if (offset > region.size)
            fail(key_path(path, offset_key), arch::size_name(offset) + " is past the end of region " + in_quotes(name) + " (" +
                                               arch::size_name(region.size) + " bytes); allowed: 0 to the region size");
    }
    std::uint64_t size = region.size - offset;
    if (dest_size != nullptr) {
        if (*dest_size > size)
            fail(key_path(path, offset_key), "the moved " + arch::size_name(*dest_size) + " from " + arch::size_name(offset) +
                                                 " passes the end of region " + in_quotes(name) + " (" +
                                                 arch::size_name(region.size) + " bytes); allowed: at most " +
                                                 arch::size_name(region.size - *dest_size));
        return Range{region.addr + offset, *dest_size};
    }
    if (v.contains("size")) {
        size = read_size(v["size"], key_path(path, "size"));
        if (size > region.size - offset)
            fail(key_path(path, "size"), "offset " + arch::size_name(offset) + " + size " + arch::size_name(size) +
                                             " passes the end of region " + in_quotes(name) + " (" + arch::size_name(region.size) +
                                             " bytes); allowed: at most " + arch::size_name(region.size - offset));
    }
    return Range{region.addr + offset, size};
}

unsigned Parser::process_named(const json& v, const std::string& path) {
    const Names& names = m_script.processes;  // in id order, "main" first
    const std::string known = join(names) + " (a child is named by the \"child\" key of an earlier fork)";
    if (!v.is_string()) fail(path, found(v) + "; expected a process name; processes so far: " + known);
    const std::string name = v.get<std::string>();
    if (name == "main") return 0;
    const auto it = m_process_ids.find(name);
    if (it == m_process_ids.end()) fail(path, in_quotes(name) + " is not a process" + listing(names, name, "processes so far", known));
    return it->second;
}

unsigned Parser::new_child(const json& v, const std::string& path) {
    const std::string name = read_string(v, path, "the name of the child process");
    if (name == "main") fail(path, "\"main\" is the first process and cannot be a child; name the child otherwise, e.g. \"child\"");
    if (const auto it = m_process_ids.find(name); it != m_process_ids.end()) return it->second;
    const auto id = static_cast<unsigned>(m_script.processes.size());
    if (id >= kScriptMaxProcesses)
        fail(path, in_quotes(name) + " would be process " + std::to_string(id + 1) + "; allowed: at most " +
                       std::to_string(kScriptMaxProcesses) + " processes (\"main\" and " + std::to_string(kScriptMaxProcesses - 1) +
                       " child names; a name may be forked again after its exit)");
    m_process_ids.emplace(name, id);
    m_script.processes.push_back(name);
    return id;
}

unsigned Parser::file_named(const std::string& name) {
    const auto it = std::find(m_script.files.begin(), m_script.files.end(), name);
    if (it != m_script.files.end()) return static_cast<unsigned>(it - m_script.files.begin());
    m_script.files.push_back(name);
    return static_cast<unsigned>(m_script.files.size() - 1);
}

// ---- processes: each op runs in a live process ----------------------------------------

// Walks the program in execution order, tracking which processes run. A loop body is walked
// twice when it runs twice or more: its effect on the set of running processes is the same on
// every pass from the second on (each name ends as its last fork or exit in the body left it),
// so two passes see every state a later pass could. Bodies of loops of count 0 are not
// walked.
class ProcessCheck {
public:
    explicit ProcessCheck(const Script& script) : m_script(script), m_lives(script.processes.size()) {
        m_lives[0].running = true;
    }

    void walk(const std::vector<ScriptOp>& ops, const std::string& note) {
        for (const ScriptOp& op : ops) {
            if (op.kind == ScriptOp::Kind::Loop) {
                if (op.count == 0) continue;
                walk(op.body, note);
                if (op.count >= 2) walk(op.body, " (on the second pass through the loop at " + op.origin + ")");
                continue;
            }
            if (op.kind == ScriptOp::Kind::Checkpoint) continue;
            if (op.kind == ScriptOp::Kind::Access) {
                const ScriptAccess& a = m_script.accesses[op.index];
                require_running(a.process, a.origin, note);
                continue;
            }
            const kernel::Syscall& sc = m_script.syscalls[op.index];
            require_running(sc.process, sc.origin, note);
            if (sc.op == kernel::SyscallOp::Fork) {
                Life& child = m_lives[sc.child];
                if (child.running)
                    fail(key_path(sc.origin, "child"), in_quotes(m_script.processes[sc.child]) + " is still running (forked at " + child.since +
                                                           "); a child name may be forked again only after its exit" + note);
                child = Life{true, sc.origin};
            } else if (sc.op == kernel::SyscallOp::Exit) {
                m_lives[sc.process] = Life{false, sc.origin};
            }
        }
    }

private:
    struct Life {
        bool running = false;
        std::string since;  // the fork or exit that made it so; "" before its first fork
    };

    void require_running(unsigned id, const std::string& origin, const std::string& note) const {
        const Life& life = m_lives[id];
        if (life.running) return;
        const std::string name = in_quotes(m_script.processes[id]);
        if (!life.since.empty())
            fail(key_path(origin, "process"), name + " has exited (at " + life.since +
                                                  ") and no fork makes it again before this op; a process runs from its fork to its exit" + note);
        fail(key_path(origin, "process"), name + " is not running here: no fork of it runs before this op" + note);
    }

    const Script& m_script;
    std::vector<Life> m_lives;
};

}  // namespace

Script parse_script(const json& doc, const std::string& path) {
    Script script = Parser(path).parse(doc);
    ProcessCheck(script).walk(script.ops, "");
    return script;
}

}  // namespace mmusim::workloads
