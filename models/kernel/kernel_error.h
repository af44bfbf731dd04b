// An error of the kernel model: a fault the modelled kernel would turn into a signal, or a
// path the model does not implement. The message is for people and names the VA.
#pragma once

#include <cstdint>
#include <cstdio>
#include <stdexcept>
#include <string>

namespace mmusim::kernel {

class KernelError : public std::runtime_error {
public:
    explicit KernelError(const std::string& message) : std::runtime_error(message) {}
};

// A fault the process gets SIGSEGV for (an address outside every mapping, or an access its
// mapping forbids): a run on a trace may count these instead of stopping
// (workload.trace.on_segv).
class SegvError : public KernelError {
public:
    using KernelError::KernelError;
};

// An address for such a message: "0x" and lower-case hex digits.
inline std::string hex(std::uint64_t v) {
    char buf[24];
    std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
    return buf;
}

}  // namespace mmusim::kernel
