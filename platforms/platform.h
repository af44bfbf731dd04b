// Wires a platform: per core a Core and an Mmu, one PhysMem, one Dvm, one Kernel; binds the
// TLM sockets and creates the process address space.
#pragma once

#include <memory>
#include <vector>

#include "models/core/core.h"
#include "models/dvm/dvm.h"
#include "models/kernel/kernel.h"
#include "models/memory/phys_mem.h"
#include "models/mmu/mmu.h"
#include "platforms/platform_config.h"
#include "workloads/source.h"

namespace mmusim::platforms {

class Platform {
public:
    // One workload source per core (threads are placed on cores in order).
    Platform(const PlatformConfig& platform, const kernel::KernelConfig& kernel,
             std::vector<std::unique_ptr<workloads::Source>> threads, bool allow_syscall_errors = false);
    ~Platform();

    unsigned cores() const { return static_cast<unsigned>(m_cores.size()); }
    core::Core& core(unsigned i) { return *m_cores[i]; }
    mmu::Mmu& mmu(unsigned i) { return *m_mmus[i]; }
    kernel::Kernel& kernel() { return *m_kernel; }
    memory::PhysMem& memory() { return *m_mem; }

private:
    std::unique_ptr<memory::PhysMem> m_mem;
    std::unique_ptr<dvm::Dvm> m_dvm;
    std::unique_ptr<kernel::Kernel> m_kernel;
    std::vector<std::unique_ptr<mmu::Mmu>> m_mmus;
    std::vector<std::unique_ptr<core::Core>> m_cores;
};

}  // namespace mmusim::platforms
