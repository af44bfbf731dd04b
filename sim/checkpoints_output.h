// The checkpoints of a script run as a JSON document (`mmusim run --checkpoints FILE`,
// schema mmusim-checkpoints/1): per checkpoint its counters and, per running process, the
// state of every page of the script's regions, one page per line.
#pragma once

#include <memory>
#include <string>

#include "models/kernel/checkpoint.h"
#include "sim/config.h"

namespace mmusim::sim {

// The log to record a run's checkpoints into: the script's regions. Throws ConfigError when
// the workload is not a script (only scripts have checkpoint ops).
std::unique_ptr<kernel::CheckpointLog> make_checkpoint_log(const RunConfig& config);

// The document's text.
std::string checkpoints_text(const RunConfig& config, const kernel::CheckpointLog& log);

}  // namespace mmusim::sim
