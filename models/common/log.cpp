#include "models/common/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>

namespace mmusim {

std::shared_ptr<spdlog::logger> logger(const std::string& module) {
    if (auto existing = spdlog::get(module)) return existing;
    auto created = spdlog::stderr_color_mt(module);
    created->set_pattern("%n: %l: %v");
    created->set_level(spdlog::level::warn);
    return created;
}

}  // namespace mmusim
