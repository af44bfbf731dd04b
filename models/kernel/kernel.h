// The Linux arm64 kernel model as a SystemC module: Cores call it (page faults) through
// `socket`; it reads and writes page tables in PhysMem through `mem_socket` and sends TLBIs
// to the DVM fabric through `dvm_socket`. It owns the process address space.
#pragma once

#include <cstdint>
#include <memory>

#include <spdlog/spdlog.h>

#include <systemc>
#include <tlm>
#include <tlm_utils/simple_initiator_socket.h>
#include <tlm_utils/multi_passthrough_target_socket.h>

#include "models/kernel/fault.h"
#include "models/kernel/folio_allocator.h"
#include "models/kernel/kernel_config.h"
#include "models/kernel/kernel_stats.h"
#include "models/kernel/mm.h"
#include "models/kernel/pgtable.h"
#include "models/kernel/pgtable_alloc.h"
#include "models/kernel/pte_memory.h"
#include "models/kernel/tlb_flush.h"

namespace mmusim::kernel {

class Kernel : public sc_core::sc_module {
public:
    tlm_utils::multi_passthrough_target_socket<Kernel> socket;  // every core binds here
    tlm_utils::simple_initiator_socket<Kernel> mem_socket;
    tlm_utils::simple_initiator_socket<Kernel> dvm_socket;

    Kernel(sc_core::sc_module_name name, const KernelConfig& config);

    // Creates the user address space: a PGD and, for layout "auto", one anonymous private
    // read/write/exec VMA over all user addresses. Call after the sockets are bound.
    Mm& create_user_mm(std::uint16_t asid);

    const KernelConfig& config() const { return m_config; }
    const KernelStats& stats() const { return m_stats; }
    Mm& mm() { return *m_mm; }
    // Building blocks, for tests and for operations driven outside a fault.
    Pgtable& pgtable() { return m_pgtable; }
    PgtableAlloc& tables() { return m_tables; }
    TlbFlush& tlb_flush() { return m_flush; }
    FolioAllocator& folios() { return m_folios; }
    FaultHandler& faults() { return *m_faults; }
    // Time spent by the kernel operations run since the last call (then reset).
    sc_core::sc_time take_delay();

private:
    void b_transport(int initiator, tlm::tlm_generic_payload& trans, sc_core::sc_time& delay);

    KernelConfig m_config;
    KernelStats m_stats;
    sc_core::sc_time m_delay;  // time of the current kernel call
    FolioAllocator m_folios;
    PteMemory m_mem;
    TlbFlush m_flush;
    Pgtable m_pgtable;
    PgtableAlloc m_tables;
    std::unique_ptr<FaultHandler> m_faults;
    std::unique_ptr<Mm> m_mm;
    std::shared_ptr<spdlog::logger> m_log;
};

}  // namespace mmusim::kernel
