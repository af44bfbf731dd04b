// One simulation: builds the platform in a fresh SystemC context, replays the workload, and
// returns the statistics document of spec/mmu.md §5.
#pragma once

#include <memory>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include "sim/config.h"
#include "workloads/source.h"

namespace mmusim::kernel {
class CheckpointLog;
class Timeline;
}

namespace mmusim::sim {

// The run could not complete: a bad trace line, a fatal fault, an unmodelled path.
class RunError : public std::runtime_error {
public:
    explicit RunError(const std::string& message) : std::runtime_error(message) {}
};

// Opens the configured workload (trace reader or generator, limited by max_records).
std::unique_ptr<workloads::Source> open_workload(const RunConfig& config, unsigned thread = 0);

class Progress;

// With `timeline`, the kernel's events are recorded there as the run goes; with `progress`,
// the records are counted into it as the workload is read; with `checkpoints`, the script's
// checkpoint ops are recorded there.
nlohmann::json run_simulation(const RunConfig& config, kernel::Timeline* timeline = nullptr, Progress* progress = nullptr,
                              kernel::CheckpointLog* checkpoints = nullptr);

}  // namespace mmusim::sim
