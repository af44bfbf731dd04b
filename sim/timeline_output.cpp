#include "sim/timeline_output.h"

#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "sim/config_error.h"
#include "sim/logging.h"
#include "sim/output.h"

namespace mmusim::sim {

namespace fs = std::filesystem;

std::uint64_t parse_timeline_events(const std::string& text) {
    std::uint64_t n = 0;
    const char* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, n);
    if (text.empty() || ec != std::errc() || ptr != end || n == 0 || n > kTimelineEventsMax)
        throw ConfigError("--timeline-events " + text + ": not an allowed number of events; allowed: a whole number from 1 to " +
                          std::to_string(kTimelineEventsMax) + " (default " + std::to_string(kTimelineEventsDefault) + ")");
    return n;
}

void check_timeline_path(const std::string& path) { check_output_file("--timeline", path, "timeline.json"); }

std::unique_ptr<kernel::Timeline> make_timeline(const RunConfig& config, std::uint64_t cap) {
    auto timeline = std::make_unique<kernel::Timeline>(cap);
    timeline->set_process_name("mmusim " + config.source);
    return timeline;
}

void write_timeline(const std::string& path, const kernel::Timeline& timeline, const RunConfig& config) {
    const std::string other = "\"program\":" + nlohmann::json(std::string("mmusim ") + MMUSIM_VERSION).dump() +
                              ",\"config\":" + nlohmann::json(config.source).dump() +
                              ",\"time\":\"simulated time: ts and dur in microseconds, exact to the picosecond; one cycle is "
                              "one nanosecond\"";
    write_file_atomic(path, [&](std::ostream& out) { timeline.write(out, other); });
    if (timeline.dropped() != 0)
        logger("sim")->warn("--timeline-events {}: the timeline {} holds the first {} events of the run; {} more were not "
                            "recorded",
                            timeline.cap(), path, timeline.recorded(), timeline.dropped());
}

}  // namespace mmusim::sim
