// An error of the kernel model: a fault the modelled kernel would turn into a signal, or a
// path the model does not implement. The message is for people and names the VA.
#pragma once

#include <stdexcept>
#include <string>

namespace mmusim::kernel {

class KernelError : public std::runtime_error {
public:
    explicit KernelError(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace mmusim::kernel
