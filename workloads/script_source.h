// The records of a workload script: its ops in order, loops expanded as they are reached.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "models/common/rng.h"
#include "workloads/script.h"
#include "workloads/source.h"

namespace mmusim::workloads {

// Kernel ops yield one Kernel record each (va: the index of the op's Syscall, the same on
// every pass through a loop; size 0; process: the caller, or for exit the exiting process).
// Access ops yield their accesses. Loops are expanded lazily with a stack, so a loop count of
// 10^9 costs no memory, and a loop whose body yields nothing is skipped whatever its count.
// Random addresses and access kinds come from two streams seeded from `seed`, drawn in record
// order: the records are fully determined by the script and the seed.
class ScriptSource final : public Source {
public:
    // `thread` selects the program: 0 the script's ops, i > 0 those of threads[i - 1]; each
    // thread draws from its own streams. (workload.max_records is a LimitedSource around it.)
    ScriptSource(std::shared_ptr<const Script> script, std::uint64_t seed, unsigned thread = 0);

    std::size_t next(Record* out, std::size_t max) override;
    const kernel::Syscall* syscall(std::uint64_t index) const override;
    const std::string& name() const override { return m_name; }

private:
    struct Frame {
        const std::vector<ScriptOp>* ops;
        std::size_t pos;
        std::uint64_t passes_left;  // including the current one
    };

    void start(const ScriptAccess& access);
    std::size_t emit_accesses(Record* out, std::size_t max);
    AccessKind next_kind();

    std::shared_ptr<const Script> m_script;
    std::string m_name;
    std::vector<Frame> m_stack;

    // The access op being emitted (null between ops).
    const ScriptAccess* m_access = nullptr;
    std::uint64_t m_access_left = 0;
    std::uint64_t m_usable = 0;  // range size rounded down to a multiple of access_size
    std::uint64_t m_step = 0;    // stride modulo m_usable
    std::uint64_t m_cursor = 0;  // offset of the next sequential or strided access, < m_usable

    Xoshiro256ss m_address_rng;
    Xoshiro256ss m_kind_rng;
};

}  // namespace mmusim::workloads
