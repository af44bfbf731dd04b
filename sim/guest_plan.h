// `mmusim guest-plan`: a workload script as the flat plan that scripts/linux-check's guest
// program performs on a real kernel with real system calls: the sysfs settings that give
// Linux the config's THP policy, the regions, then every system call, access run and
// checkpoint in the order the run makes them (loops expanded, the seeded random addresses
// drawn as the run draws them). A config Linux cannot be made to run the same way is refused.
#pragma once

#include <cstdint>
#include <string>

#include "sim/config.h"

namespace mmusim::sim {

// At most this many accesses and plan lines: the guest runs them under emulation.
inline constexpr std::uint64_t kGuestPlanMaxAccesses = 20'000'000;
inline constexpr std::uint64_t kGuestPlanMaxLines = 4'000'000;

// The plan's text (format "mmusim-guest-plan 1"). Throws ConfigError naming the key or op
// that Linux cannot perform as the model does.
std::string guest_plan_text(const RunConfig& config);

}  // namespace mmusim::sim
