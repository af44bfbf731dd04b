// TLM extension of a call from a Core into the Kernel: today a page fault; syscalls will be
// further kinds. A failure (a signal, or an unmodelled path) comes back as
// TLM_GENERIC_ERROR_RESPONSE with `error` set.
#pragma once

#include <cstdint>
#include <string>

#include <tlm>

#include "models/arch/fault.h"

namespace mmusim::kernel {

struct KernelCallExt : tlm::tlm_extension<KernelCallExt> {
    enum class Kind : std::uint8_t { PageFault };
    Kind kind = Kind::PageFault;
    unsigned core = 0;
    std::uint64_t va = 0;
    arch::Access access = arch::Access::Load;
    arch::FaultKind fault = arch::FaultKind::Translation;
    unsigned level = 3;
    // Out:
    std::string error;

    tlm::tlm_extension_base* clone() const override { return new KernelCallExt(*this); }
    void copy_from(const tlm::tlm_extension_base& other) override {
        *this = static_cast<const KernelCallExt&>(other);
    }
};

}  // namespace mmusim::kernel
