// Wires a platform: per core a Core and an Mmu, one PhysMem, one Dvm, one Kernel; binds the
// TLM sockets and creates the process address space.
#pragma once

#include <memory>
#include <vector>

#include "models/check/invariant_checker.h"
#include "models/core/core.h"
#include "models/dvm/dvm.h"
#include "models/kernel/kernel.h"
#include "models/memory/phys_mem.h"
#include "models/mmu/mmu.h"
#include "platforms/platform_config.h"
#include "workloads/source.h"

namespace mmusim::platforms {

// One thread of the workload process and the core it runs on.
struct WorkloadThread {
    std::unique_ptr<workloads::Source> source;
    unsigned core = 0;
    bool wait_for_spawn = false;  // starts when another thread spawns it (scripts)
};

class Platform {
public:
    // At most one thread per core; cores without a thread stay idle (they still receive
    // broadcast maintenance).
    // With `check_invariants`, the invariant checker (models/check) runs after every kernel
    // operation and a violation stops the run.
    // With `count_segv`, an access the process would get SIGSEGV for is counted and skipped.
    Platform(const PlatformConfig& platform, const kernel::KernelConfig& kernel, std::vector<WorkloadThread> threads,
             bool allow_syscall_errors = false, bool check_invariants = false, bool count_segv = false);
    ~Platform();

    unsigned cores() const { return static_cast<unsigned>(m_cores.size()); }
    core::Core& core(unsigned i) { return *m_cores[i]; }
    mmu::Mmu& mmu(unsigned i) { return *m_mmus[i]; }
    kernel::Kernel& kernel() { return *m_kernel; }
    memory::PhysMem& memory() { return *m_mem; }
    // The invariant checker, or null when the platform was built without one.
    const check::InvariantChecker* checker() const { return m_checker.get(); }

private:
    std::unique_ptr<SmpState> m_smp;  // multi-core runs only
    std::unique_ptr<memory::PhysMem> m_mem;
    std::unique_ptr<dvm::Dvm> m_dvm;
    std::unique_ptr<kernel::Kernel> m_kernel;
    std::vector<std::unique_ptr<mmu::Mmu>> m_mmus;
    std::vector<std::unique_ptr<core::Core>> m_cores;
    std::unique_ptr<check::InvariantChecker> m_checker;
};

}  // namespace mmusim::platforms
