#include "models/kernel/kernel.h"

#include <algorithm>

#include "models/arch/descriptor.h"
#include "models/arch/granule.h"
#include "models/common/cycles.h"
#include "models/common/log.h"
#include "models/kernel/kernel_call_ext.h"
#include "models/kernel/kernel_error.h"

namespace mmusim::kernel {

using namespace arch::bits;

namespace {
unsigned max_buddy_order(const arch::Geometry& geo) {
    // Linux arm64 MAX_PAGE_ORDER: 10 with 4K pages, enough for a PMD folio with 16K and 64K.
    return std::max(10u, geo.pmd_order());
}

// PAGE_READONLY_EXEC: the vm_page_prot of a private read/write/exec mapping (written
// entries get WRITE and DIRTY on top when the mapping is writable).
arch::Desc page_readonly_exec() {
    return kValid | kType | kUser | kRdonly | kShInner | kAf | kNg | kPxn;
}
}  // namespace

Kernel::Kernel(sc_core::sc_module_name name, const KernelConfig& config)
    : sc_core::sc_module(name), socket("socket"), mem_socket("mem_socket"), dvm_socket("dvm_socket"),
      m_config(config),
      m_folios(config.memory_bytes >> arch::geometry(config.granule).page_shift, max_buddy_order(arch::geometry(config.granule))),
      m_mem(mem_socket, m_stats, m_config.costs, m_delay),
      m_flush(dvm_socket, m_stats, m_config, m_delay),
      m_pgtable(m_config, m_stats, m_mem, m_flush, m_folios),
      m_tables(m_config, m_stats, m_mem, m_flush, m_folios, mem_socket, m_delay) {
    socket.register_b_transport(this, &Kernel::b_transport);
    m_log = logger("kernel");
    m_faults = std::make_unique<FaultHandler>(m_config, m_stats, m_pgtable, m_tables, m_folios, m_delay);
}

Mm& Kernel::create_user_mm(std::uint16_t asid) {
    m_mm = std::make_unique<Mm>();
    m_mm->asid = asid;
    m_mm->user = true;
    m_mm->pgd_pa = m_tables.pgd_alloc();
    // Layout "auto": one anonymous VMA over the whole user range except page 0, which Linux
    // never maps (mmap_min_addr).
    Vma vma;
    vma.start = arch::geometry(m_config.granule).page_size();
    vma.end = arch::kUserVaEnd;
    vma.page_prot = page_readonly_exec();
    vma.name = "[auto]";
    m_mm->vmas.emplace(vma.start, vma);
    m_delay = sc_core::SC_ZERO_TIME;
    return *m_mm;
}

sc_core::sc_time Kernel::take_delay() {
    const sc_core::sc_time d = m_delay;
    m_stats.cycles += time_to_cycles(d);
    m_delay = sc_core::SC_ZERO_TIME;
    return d;
}

void Kernel::b_transport(int /*initiator*/, tlm::tlm_generic_payload& trans, sc_core::sc_time& delay) {
    KernelCallExt* call = nullptr;
    trans.get_extension(call);
    m_delay = sc_core::SC_ZERO_TIME;
    m_flush.set_core(call->core);
    try {
        m_delay += cycles_to_time(m_config.costs.fault_entry_exit);
        ++m_stats.faults_total;
        ++m_stats.faults_by_kind[std::string(arch::fault_kind_name(call->fault))];
        const char* path = m_faults->handle_mm_fault(*m_mm, FaultRequest{call->va, call->access, call->fault, call->level});
        ++m_stats.faults_by_handler[path];
        m_log->debug("core {}: {} {} fault at VA {:#x} (level {}): {}", call->core, arch::access_name(call->access),
                     arch::fault_kind_name(call->fault), call->va, call->level, path);
        trans.set_response_status(tlm::TLM_OK_RESPONSE);
    } catch (const KernelError& e) {
        m_log->debug("core {}: fault at VA {:#x} not resolved: {}", call->core, call->va, e.what());
        call->error = e.what();
        trans.set_response_status(tlm::TLM_GENERIC_ERROR_RESPONSE);
    }
    delay += take_delay();
}

}  // namespace mmusim::kernel
