// Logging set-up: one spdlog logger per module (sim, core, mmu, kernel, workload, systemc),
// all writing to stderr; stdout carries only results. SystemC's own reports are routed here.
#pragma once

#include <memory>
#include <string>

#include <spdlog/spdlog.h>

#include "models/common/log.h"

namespace mmusim::sim {

// `spec` is "LEVEL" or "LEVEL,module=LEVEL,...", e.g. "warn,kernel=debug". Throws ConfigError
// on an unknown level or module.
void setup_logging(const std::string& spec);

using mmusim::logger;

// Makes SystemC report through the "systemc" logger instead of printing to stdout.
void route_systemc_reports();

}  // namespace mmusim::sim
