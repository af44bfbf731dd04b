// Told by the Kernel when one of its operations (a page fault, a system call, a fold-scanner
// pass) has returned, with every flush that Linux completes before returning done. The
// invariant checker (models/check) implements it; the kernel knows nothing of what it checks.
#pragma once

#include <string>

namespace mmusim::kernel {

class OpChecker {
public:
    // `op` is the operation's name as kernel.by_op counts it ("fault", "mprotect", ...). A
    // violation is reported by throwing.
    virtual void after_op(const std::string& op) = 0;

protected:
    ~OpChecker() = default;
};

}  // namespace mmusim::kernel
