// `mmusim run --timeline FILE [--timeline-events N]`: the options, checked before the run, and
// the file, written after it (the recorder is models/kernel/timeline.h).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "models/kernel/timeline.h"
#include "sim/config.h"

namespace mmusim::sim {

inline constexpr std::uint64_t kTimelineEventsDefault = 1000000;
inline constexpr std::uint64_t kTimelineEventsMax = 100000000;

// The value of --timeline-events: a whole number from 1 to kTimelineEventsMax (ConfigError).
std::uint64_t parse_timeline_events(const std::string& text);

// Checks that FILE can be written (its folder exists and takes a new file) before anything
// runs, so that a bad path costs no run and leaves no file (ConfigError).
void check_timeline_path(const std::string& path);

// A recorder for the run of `config`, capped at `cap` events.
std::unique_ptr<kernel::Timeline> make_timeline(const RunConfig& config, std::uint64_t cap);

// Writes the file atomically; one warning on the "sim" logger when the cap dropped events.
void write_timeline(const std::string& path, const kernel::Timeline& timeline, const RunConfig& config);

}  // namespace mmusim::sim
