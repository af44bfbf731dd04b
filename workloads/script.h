// A workload script (workload.script): named regions of one thread's address space and a
// program of kernel calls and memory accesses, with loops, parsed and checked once from JSON.
// The records it stands for are produced by ScriptSource (workloads/script_source.h).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "models/kernel/syscall.h"
#include "workloads/record.h"
#include "workloads/workload_error.h"

namespace mmusim::workloads {

// A script that does not parse or check: the message starts with the key path
// ("workload.script.ops[2].region: ...") or "unknown key ..." and names what was found and
// what is allowed. The config layer prefixes the file name.
class ScriptError : public WorkloadError {
public:
    explicit ScriptError(const std::string& message) : WorkloadError(message) {}
};

// Where auto-placed regions go: the first at or above kScriptFirstRegion, each next one at
// least kScriptRegionGap above the end of the region before it.
inline constexpr std::uint64_t kScriptFirstRegion = 0x10000000;
inline constexpr std::uint64_t kScriptRegionGap = std::uint64_t{2} << 20;
inline constexpr std::uint64_t kScriptDefaultAlign = std::uint64_t{2} << 20;
// Loops nest at most this deep.
inline constexpr unsigned kScriptMaxLoopDepth = 16;
// Processes: "main" (id 0) and the children named by forks (ids 1, 2, ...).
inline constexpr unsigned kScriptMaxProcesses = 255;
inline constexpr std::uint32_t kScriptMaxAccessSize = 4096;

struct ScriptRegion {
    std::string name;
    std::uint64_t addr = 0;
    std::uint64_t size = 0;
};

enum class ScriptPattern : std::uint8_t { Sequential, Strided, Random };

// One `access` op: `count` accesses of `access_size` bytes inside [base, base + size).
// Sequential and strided: the i-th access is at offset (i * stride) mod M, rounded down to a
// multiple of access_size, where M is `size` rounded down to a multiple of access_size; so an
// access never crosses the end of the range. Random: a uniformly drawn multiple of
// access_size below M.
struct ScriptAccess {
    ScriptPattern pattern = ScriptPattern::Sequential;
    std::uint8_t process = 0;
    std::uint64_t base = 0;
    std::uint64_t size = 0;  // at least access_size
    std::uint32_t access_size = 8;
    std::uint64_t stride = 8;  // sequential, strided; at least 1
    std::uint64_t count = 1;   // at least 1
    // The kinds drawn, in order, with their cumulative fractions; the last bound is 1.
    std::array<AccessKind, 3> kinds{AccessKind::Load, AccessKind::Store, AccessKind::Ifetch};
    std::array<double, 3> bounds{1.0, 1.0, 1.0};
    unsigned kind_count = 1;  // 1: every access is kinds[0] and no draw is made
    std::string origin;       // "workload.script.ops[4]"
};

// A `checkpoint` op: the run records the state of every page of the regions here.
struct ScriptCheckpoint {
    std::string name;
    std::string origin;  // "workload.script.ops[4]"
};

// A node of the program: a kernel call, an access pattern, a checkpoint, or a loop over a body.
struct ScriptOp {
    enum class Kind : std::uint8_t { Kernel, Access, Loop, Checkpoint };
    Kind kind = Kind::Kernel;
    std::size_t index = 0;         // Kernel: into Script::syscalls; Access: into Script::accesses;
                                   // Checkpoint: into Script::checkpoints
    std::uint64_t count = 0;       // Loop: iterations
    bool yields = false;           // Loop: one iteration yields at least one record
    std::vector<ScriptOp> body;    // Loop
    std::string origin;            // Loop: its key path
};

// A thread of the main process besides the first one: its own program, started by a `spawn`
// op of the main thread, run on the core the placement gives it.
struct ScriptThread {
    std::string name;
    std::vector<ScriptOp> ops;
};

struct Script {
    bool allow_errors = false;  // a kernel call answering -errno is counted (true) or stops the run
    std::vector<ScriptRegion> regions;      // in declaration order, addresses resolved
    std::vector<std::string> processes;     // names by id; processes[0] == "main"
    std::vector<std::string> files;         // names by file number (Syscall::file)
    std::vector<kernel::Syscall> syscalls;  // by op, in document order; Kernel records index it
    std::vector<ScriptAccess> accesses;     // by op, in document order
    std::vector<ScriptCheckpoint> checkpoints;  // by op, in document order (names unique)
    std::vector<ScriptOp> ops;              // the program (of the first thread)
    std::vector<ScriptThread> threads;      // threads 1, 2, ... by index - 1
};

// Parses and checks `doc`, the value of workload.script; key paths in messages start with
// `path`. Throws ScriptError. Alignment of ranges is not checked (the kernel answers EINVAL).
Script parse_script(const nlohmann::json& doc, const std::string& path = "workload.script");

}  // namespace mmusim::workloads
