// A one-line progress display on stderr for a person watching a terminal: records of a long
// run, or points of a sweep. It is rewritten in place with '\r' a few times a second at most
// and cleared at the end. It is shown only on a terminal (never in a file, a pipe, a CI log or
// with --json), so it never changes a result.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "sim/config.h"
#include "workloads/source.h"

namespace mmusim::sim {

class Progress {
public:
    // Whether a progress line belongs on stderr: stderr is a terminal, the environment
    // variable CI is unset or empty, and --json was not given.
    static bool wanted(bool json_out);

    // A disabled Progress ignores every call and prints nothing.
    explicit Progress(bool enabled);
    ~Progress();
    Progress(const Progress&) = delete;
    Progress& operator=(const Progress&) = delete;

    bool enabled() const { return m_enabled; }

    // A run: `total` records are expected (0 = not known); add_records counts those replayed.
    void set_record_total(std::uint64_t total);
    void add_records(std::uint64_t n);

    // A sweep: `done` of `total` points are complete, `ran` of them by this command (the
    // others were reused), and `running` are running now.
    void points(std::size_t done, std::size_t total, std::size_t ran, std::size_t running);

    // Removes the line (also done at destruction).
    void clear();

private:
    void show(const std::string& line);  // at most every quarter second

    bool m_enabled;
    std::int64_t m_start_ns = 0;
    std::int64_t m_last_ns = 0;
    bool m_shown = false;
    std::uint64_t m_records = 0;
    std::uint64_t m_record_total = 0;
};

// Counts the records that `inner` yields into `progress`, one addition per batch, so that the
// replaying core pays nothing per record.
std::unique_ptr<workloads::Source> counted_source(std::unique_ptr<workloads::Source> inner, Progress& progress);

// The records a run of `config` will replay, over all its threads, when known in advance (a
// generator, or workload.max_records); 0 when not (a trace or a script without max_records).
std::uint64_t expected_records(const RunConfig& config);

}  // namespace mmusim::sim
