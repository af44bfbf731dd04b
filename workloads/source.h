// A stream of records for one workload thread.
#pragma once

#include <cstddef>
#include <string>

#include "workloads/record.h"

namespace mmusim::workloads {

// Sources are pulled in batches so that the replaying core does not pay a virtual call per
// record. A source never holds the whole workload in memory.
class Source {
public:
    virtual ~Source() = default;

    // Fills up to `max` records into `out` and returns how many were written; 0 means the
    // stream has ended. A malformed input throws WorkloadError naming the file and line.
    virtual std::size_t next(Record* out, std::size_t max) = 0;

    // Human-readable name of the source for logs and errors (e.g. the trace path).
    virtual const std::string& name() const = 0;
};

}  // namespace mmusim::workloads
