// A stream of records for one workload thread.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "models/kernel/syscall.h"
#include "workloads/record.h"
#include "workloads/trace_events.h"

namespace mmusim::workloads {

// Sources are pulled in batches so that the replaying core does not pay a virtual call per
// record. A source never holds the whole workload in memory.
class Source {
public:
    virtual ~Source() = default;

    // Fills up to `max` records into `out` and returns how many were written; 0 means the
    // stream has ended. A malformed input throws WorkloadError naming the file and line.
    virtual std::size_t next(Record* out, std::size_t max) = 0;

    // The kernel call of a Kernel record (its `va`); sources that never yield Kernel
    // records keep this default.
    virtual const kernel::Syscall* syscall(std::uint64_t /*index*/) const { return nullptr; }

    // The address space at exec that a trace records (`@map` lines), read when the source is
    // opened; empty for sources without one.
    virtual const std::vector<TraceMapping>& initial_mappings() const {
        static const std::vector<TraceMapping> none;
        return none;
    }
    virtual TraceArch arch() const { return TraceArch::Unknown; }

    // Human-readable name of the source for logs and errors (e.g. the trace path).
    virtual const std::string& name() const = 0;
};

}  // namespace mmusim::workloads
