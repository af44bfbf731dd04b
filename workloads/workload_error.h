// Errors raised by workload sources: a message for people, naming the file and line.
#pragma once

#include <stdexcept>
#include <string>

namespace mmusim::workloads {

class WorkloadError : public std::runtime_error {
public:
    explicit WorkloadError(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace mmusim::workloads
