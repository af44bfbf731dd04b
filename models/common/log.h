// The named spdlog logger of a module (sim, core, mmu, kernel, workload, systemc), created on
// first use, writing to stderr. Model code logs only through these, never on the TLB-hit path.
#pragma once

#include <memory>
#include <string>

#include <spdlog/spdlog.h>

namespace mmusim {

std::shared_ptr<spdlog::logger> logger(const std::string& module);

}  // namespace mmusim
