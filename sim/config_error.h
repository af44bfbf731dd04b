// A configuration error for people: names the file or the --set option, the key path, what
// was found, and what is allowed. Raised before anything runs, so nothing is written.
#pragma once

#include <stdexcept>
#include <string>

namespace mmusim::sim {

class ConfigError : public std::runtime_error {
public:
    explicit ConfigError(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace mmusim::sim
