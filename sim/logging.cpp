#include "sim/logging.h"

#include <array>

#include <systemc>

#include "sim/config_error.h"

namespace mmusim::sim {

namespace {
constexpr std::array<const char*, 6> kModules = {"sim", "core", "mmu", "kernel", "workload", "systemc"};

spdlog::level::level_enum parse_level(const std::string& text, const std::string& spec) {
    const auto level = spdlog::level::from_str(text);
    // from_str maps unknown names to "off"; only accept a real "off".
    if (level == spdlog::level::off && text != "off")
        throw ConfigError("--log-level " + spec + ": \"" + text +
                          "\" is not a level; allowed: trace, debug, info, warn, error, critical, off");
    return level;
}

void systemc_handler(const sc_core::sc_report& report, const sc_core::sc_actions& actions) {
    auto log = logger("systemc");
    const std::string text = std::string(report.get_msg_type()) + ": " + report.get_msg();
    switch (report.get_severity()) {
        case sc_core::SC_INFO: log->debug(text); break;
        case sc_core::SC_WARNING: log->warn(text); break;
        default: log->error(text); break;
    }
    // Keep SystemC's own reactions (throwing on errors, stopping) but never its printing.
    sc_core::sc_report_handler::default_handler(report, actions & ~(sc_core::SC_DISPLAY | sc_core::SC_LOG));
}
}  // namespace

void setup_logging(const std::string& spec) {
    for (const char* m : kModules) logger(m);
    std::size_t start = 0;
    while (start <= spec.size()) {
        const std::size_t comma = spec.find(',', start);
        const std::string part = spec.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        const std::size_t eq = part.find('=');
        if (eq == std::string::npos) {
            const auto level = parse_level(part, spec);
            for (const char* m : kModules) logger(m)->set_level(level);
        } else {
            const std::string module = part.substr(0, eq);
            bool known = false;
            for (const char* m : kModules) known = known || module == m;
            if (!known)
                throw ConfigError("--log-level " + spec + ": \"" + module +
                                  "\" is not a module; allowed: sim, core, mmu, kernel, workload, systemc");
            logger(module)->set_level(parse_level(part.substr(eq + 1), spec));
        }
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
}

void route_systemc_reports() { sc_core::sc_report_handler::set_handler(systemc_handler); }

}  // namespace mmusim::sim
