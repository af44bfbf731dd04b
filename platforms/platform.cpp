#include "platforms/platform.h"

#include <string>

#include "models/common/cycles.h"

namespace mmusim::platforms {

Platform::Platform(const PlatformConfig& platform, const kernel::KernelConfig& kernel, std::vector<WorkloadThread> threads,
                   bool allow_syscall_errors, bool check_invariants, bool count_segv) {
    tlm_utils::tlm_quantumkeeper::set_global_quantum(cycles_to_time(platform.quantum));
    if (platform.cores > 1) m_smp = std::make_unique<SmpState>(static_cast<unsigned>(threads.size()));
    memory::CacheHierarchyConfig caches = platform.caches;
    caches.cores = platform.cores;
    m_mem = std::make_unique<memory::PhysMem>("phys_mem", platform.memory_latency, caches);
    m_dvm = std::make_unique<dvm::Dvm>("dvm", platform.cores);
    m_kernel = std::make_unique<kernel::Kernel>("kernel", kernel);
    m_kernel->mem_socket.bind(m_mem->socket);
    m_kernel->dvm_socket.bind(m_dvm->socket);
    m_kernel->set_smp(m_smp.get());

    mmu::MmuConfig mc;
    mc.l1i = platform.l1i;
    mc.l1d = platform.l1d;
    mc.l2 = platform.l2;
    mc.walker.granule = kernel.granule;
    mc.walker.honour_cont = platform.features.honour_cont;
    mc.walker.hafdbs = platform.features.hafdbs;
    mc.conflict_abort = platform.features.conflict_abort;
    mc.smp = m_smp.get();
    mc.walk_cache = platform.walk_cache;
    for (unsigned i = 0; i < platform.cores; ++i) {
        const std::string id = std::to_string(i);
        mc.core = i;
        m_mmus.push_back(std::make_unique<mmu::Mmu>(("mmu" + id).c_str(), mc));
        m_mmus.back()->mem_socket.bind(m_mem->socket);
        m_dvm->mmu_socket(i).bind(m_mmus.back()->dvm_socket);
        core::CoreConfig cc;
        cc.id = i;
        cc.allow_errors = allow_syscall_errors;
        cc.count_segv = count_segv;
        cc.cpi_milli = platform.cpi_milli;
        cc.smp = m_smp.get();
        cc.vmas = m_kernel.get();
        std::unique_ptr<workloads::Source> source;
        for (unsigned t = 0; t < threads.size(); ++t) {
            if (threads[t].core != i || threads[t].source == nullptr) continue;
            source = std::move(threads[t].source);
            cc.thread = t;
            cc.wait_for_spawn = threads[t].wait_for_spawn && m_smp != nullptr;
            // The core of the first thread also runs the background fold pass; a kernel built
            // without contpte has nothing to fold, so there is no such thread.
            if (t == 0 && kernel.fold_policy == kernel::FoldPolicy::Scanner && kernel.contpte)
                cc.fold_scan_interval = kernel.fold_scanner.interval_cycles;
        }
        m_cores.push_back(std::make_unique<core::Core>(("core" + id).c_str(), cc, std::move(source)));
        m_cores.back()->mmu_socket.bind(m_mmus.back()->cpu_socket);
        m_cores.back()->kernel_socket.bind(m_kernel->socket);
    }

    // One process: every core runs in its address space.
    kernel::Mm& mm = m_kernel->create_user_mm(1, kernel.auto_layout);
    for (auto& mmu : m_mmus) mmu->set_context(mm.pgd_pa, mm.asid);
    if (check_invariants) {
        std::vector<const mmu::Mmu*> mmus;
        for (const auto& m : m_mmus) mmus.push_back(m.get());
        m_checker = std::make_unique<check::InvariantChecker>(*m_kernel, *m_mem, std::move(mmus));
        m_kernel->set_checker(m_checker.get());
    }
}

Platform::~Platform() = default;

}  // namespace mmusim::platforms
