// TLM extension of a call from a Core into the Kernel: a page fault, a system call of the
// workload, or a context switch to another process. A failure (a signal, or an unmodelled
// path) comes back as TLM_GENERIC_ERROR_RESPONSE with `error` set; a system call that Linux
// would fail returns OK with a negative `result` (-errno).
#pragma once

#include <cstdint>
#include <string>

#include <tlm>

#include "models/arch/fault.h"
#include "models/kernel/syscall.h"

namespace mmusim::kernel {

struct KernelCallExt : tlm::tlm_extension<KernelCallExt> {
    // FoldScan: the background fold pass (fold_policy "scanner"), run on the calling core.
    enum class Kind : std::uint8_t { PageFault, Syscall, ContextSwitch, FoldScan };
    Kind kind = Kind::PageFault;
    unsigned core = 0;
    unsigned process = 0;  // the running process (the one switched to, for ContextSwitch)
    // PageFault:
    std::uint64_t va = 0;
    arch::Access access = arch::Access::Load;
    arch::FaultKind fault = arch::FaultKind::Translation;
    unsigned level = 3;
    // Syscall:
    const Syscall* syscall = nullptr;
    // Out:
    int result = 0;                // Syscall: 0 or -errno
    std::uint64_t ttbr = 0;        // ContextSwitch: the process's page tables and ASID
    std::uint16_t asid = 0;
    std::string error;
    bool segv = false;             // the error is a SIGSEGV of the process (SegvError)

    tlm::tlm_extension_base* clone() const override { return new KernelCallExt(*this); }
    void copy_from(const tlm::tlm_extension_base& other) override {
        *this = static_cast<const KernelCallExt&>(other);
    }
};

}  // namespace mmusim::kernel
