#include "models/core/core.h"

#include <sstream>
#include <stdexcept>

#include "models/common/cycles.h"
#include "models/common/log.h"
#include "models/kernel/kernel_context.h"

namespace mmusim::core {

namespace {
constexpr std::size_t kBatch = 4096;
constexpr unsigned kSplitShift = 12;  // requests are split at 4 KiB whatever the granule
}  // namespace

Core::Core(sc_core::sc_module_name name, const CoreConfig& config, std::unique_ptr<workloads::Source> source)
    : sc_core::sc_module(name), mmu_socket("mmu_socket"), kernel_socket("kernel_socket"), m_config(config),
      m_source(std::move(source)), m_buffer(kBatch) {
    m_trans.set_command(tlm::TLM_READ_COMMAND);
    m_trans.set_data_length(0);
    m_trans.set_extension(&m_ext);
    m_call_trans.set_command(tlm::TLM_IGNORE_COMMAND);
    m_call_trans.set_extension(&m_call);
    m_call.core = config.id;
    m_ctx_trans.set_command(tlm::TLM_IGNORE_COMMAND);
    m_ctx_trans.set_data_length(0);
    m_ctx_ext.context_switch = true;
    m_ctx_trans.set_extension(&m_ctx_ext);
    SC_THREAD(run);
}

Core::~Core() {
    m_trans.clear_extension(&m_ext);
    m_call_trans.clear_extension(&m_call);
    m_ctx_trans.clear_extension(&m_ctx_ext);
}

void Core::fail(const std::string& message) { throw std::runtime_error(message); }

void Core::run() {
    m_next_scan = cycles_to_time(m_config.fold_scan_interval);
    if (m_config.wait_for_spawn) sc_core::wait(*m_config.smp->start_events[m_config.thread]);
    try {
        for (; m_source != nullptr;) {
            const std::size_t n = m_source->next(m_buffer.data(), kBatch);
            if (n == 0) break;
            for (std::size_t i = 0; i < n; ++i) {
                if (m_buffer[i].kind == workloads::AccessKind::Checkpoint) {
                    if (m_checkpoint) m_checkpoint(static_cast<unsigned>(m_buffer[i].va));
                    continue;
                }
                ++m_stats.records;
                replay(m_buffer[i]);
                if (m_config.fold_scan_interval != 0) fold_scan();
            }
        }
    } catch (const std::exception& e) {
        m_error = e.what();
        m_error_record = m_stats.records;
    }
    m_qk.sync();
    m_stats.cycles = time_to_cycles(sc_core::sc_time_stamp());
    m_done = true;
    logger("core")->info("core {}: {} records, {} requests, {} attempts, {} cycles{}", m_config.id, m_stats.records,
                         m_stats.requests, m_stats.attempts, m_stats.cycles, m_error.empty() ? "" : " (stopped on an error)");
    if (!m_error.empty()) sc_core::sc_stop();
}

void Core::replay(const workloads::Record& r) {
    if (r.process != m_process) switch_to(r.process);
    arch::Access access = arch::Access::Load;
    switch (r.kind) {
        case workloads::AccessKind::Kernel: kernel_call(r); return;
        case workloads::AccessKind::Checkpoint: return;  // handled by run()
        case workloads::AccessKind::Ifetch:
            access = arch::Access::Ifetch;
            ++m_stats.inst_retired;
            // The instruction's own work, in whole cycles; the fraction carries over.
            m_cpi_carry += m_config.cpi_milli;
            if (m_cpi_carry >= 1000) {
                m_qk.inc(cycles_to_time(m_cpi_carry / 1000));
                m_cpi_carry %= 1000;
            }
            break;
        case workloads::AccessKind::Load: access = arch::Access::Load; break;
        case workloads::AccessKind::Store: case workloads::AccessKind::Modify: access = arch::Access::Store; break;
    }
    const std::uint64_t first = r.va >> kSplitShift;
    const std::uint64_t last = (r.va + r.size - 1) >> kSplitShift;
    if ((r.flags & workloads::kRecordKernelAccess) != 0) m_stats.kernel_user_accesses += last - first + 1;
    if (!translate(r.va, access)) return;
    for (std::uint64_t page = first + 1; page <= last; ++page)
        if (!translate(page << kSplitShift, access)) return;
}

bool Core::translate(std::uint64_t va, arch::Access access) {
    ++m_stats.requests;
    for (unsigned attempt = 0;; ++attempt) {
        ++m_stats.attempts;
        m_ext.access = access;
        m_trans.set_address(va);
        sc_core::sc_time delay = m_qk.get_local_time();
        mmu_socket->b_transport(m_trans, delay);
        // Only a miss reports events: a TLB hit pays this one test.
        if (m_ext.events != 0) count_by_vma(va);
        if (m_ext.fault == arch::FaultKind::None) {
            m_qk.set(delay);
            if (m_qk.need_sync() || reached_window_end()) m_qk.sync();
            return true;
        }
        if (m_ext.fault == arch::FaultKind::TlbConflict) {
            // A TLB conflict abort is fatal for the process (Linux's do_bad on FSC 0x30).
            std::ostringstream os;
            os << "core " << m_config.id << ", record " << m_stats.records << ": "
               << (m_ext.detail != nullptr ? m_ext.detail : "TLB conflict abort");
            fail(os.str());
        }
        if (attempt + 1 >= m_config.max_attempts) {
            std::ostringstream os;
            os << "core " << m_config.id << ": the " << arch::access_name(access) << " of VA 0x" << std::hex << va
               << std::dec << " still faults (" << arch::fault_kind_name(m_ext.fault) << ") after " << attempt + 1
               << " attempts; the kernel model does not resolve this fault";
            fail(os.str());
        }
        m_call.kind = kernel::KernelCallExt::Kind::PageFault;
        m_call.process = m_process;
        m_call.va = va;
        m_call.access = access;
        m_call.fault = m_ext.fault;
        m_call.level = m_ext.fault_level;
        if (!call_kernel(delay)) {
            ++m_stats.segv;  // counted (on_segv "count"): the rest of the record is skipped
            return false;
        }
    }
}

void Core::count_by_vma(std::uint64_t va) {
    const std::uint8_t events = m_ext.events;
    m_ext.events = 0;
    if (m_config.vmas == nullptr) return;
    // Looked up now, before a fault handler may change the address space: the VMA that held
    // the VA when the MMU translated it.
    const kernel::VmaClass c = m_config.vmas->vma_class(m_process, va);
    if (c == kernel::VmaClass::Count) return;
    mmu::VmaTlbEvents& e = m_stats.by_vma[static_cast<std::size_t>(c)];
    e.L1D_TLB_REFILL += (events & mmu::kEventL1dRefill) != 0 ? 1 : 0;
    e.L1I_TLB_REFILL += (events & mmu::kEventL1iRefill) != 0 ? 1 : 0;
    e.DTLB_WALK += (events & mmu::kEventDtlbWalk) != 0 ? 1 : 0;
    e.ITLB_WALK += (events & mmu::kEventItlbWalk) != 0 ? 1 : 0;
}

bool Core::call_kernel(sc_core::sc_time& delay) {
    m_call.error.clear();
    if (m_config.smp != nullptr) {
        // Multi-core: enter the kernel at this core's own time, so that kernel calls of all
        // cores happen in simulated-time order (the others are at least this far).
        m_qk.set(delay);
        m_qk.sync();
        delay = sc_core::SC_ZERO_TIME;
    }
    // In multi-core runs the kernel may wait (for another core's call, or for the others to
    // catch up), so the call's time is measured on the absolute clock.
    const sc_core::sc_time before = sc_core::sc_time_stamp() + delay;
    kernel_socket->b_transport(m_call_trans, delay);
    m_stats.kernel_cycles += time_to_cycles(sc_core::sc_time_stamp() + delay - before);
    m_qk.set(delay);
    if (!m_call_trans.is_response_ok()) {
        if (m_call.segv && m_config.count_segv) return false;
        std::ostringstream os;
        os << "core " << m_config.id << ", record " << m_stats.records << ": " << m_call.error;
        fail(os.str());
    }
    return true;
}

void Core::switch_to(unsigned process) {
    // The scheduler runs another process on this core: __switch_to in the kernel, then the
    // MMU uses that process's tables and ASID.
    m_call.kind = kernel::KernelCallExt::Kind::ContextSwitch;
    m_call.process = process;
    sc_core::sc_time delay = m_qk.get_local_time();
    call_kernel(delay);
    m_ctx_ext.ttbr = m_call.ttbr;
    m_ctx_ext.asid = m_call.asid;
    mmu_socket->b_transport(m_ctx_trans, delay);
    m_qk.set(delay);
    m_process = process;
    ++m_stats.context_switches;
}

void Core::fold_scan() {
    const sc_core::sc_time now = sc_core::sc_time_stamp() + m_qk.get_local_time();
    if (now < m_next_scan) return;
    // One pass however late it is; the next one is due one interval after this one starts.
    m_next_scan = now + cycles_to_time(m_config.fold_scan_interval);
    m_call.kind = kernel::KernelCallExt::Kind::FoldScan;
    m_call.process = m_process;
    sc_core::sc_time delay = m_qk.get_local_time();
    call_kernel(delay);
    if (m_qk.need_sync()) m_qk.sync();
}

void Core::kernel_call(const workloads::Record& r) {
    const kernel::Syscall* call = m_source->syscall(r.va);
    if (call == nullptr) fail("core " + std::to_string(m_config.id) + ": a kernel record without its request");
    m_call.kind = kernel::KernelCallExt::Kind::Syscall;
    m_call.process = m_process;
    m_call.syscall = call;
    m_call.result = 0;
    sc_core::sc_time delay = m_qk.get_local_time();
    call_kernel(delay);
    ++m_stats.syscalls;
    if (call->op == kernel::SyscallOp::Spawn && m_call.result == 0 && m_config.smp != nullptr)
        m_config.smp->start_thread(call->child, m_qk.get_local_time());
    if (m_call.result < 0) {
        ++m_stats.syscall_errors;
        // A traced call that failed in the trace failed here too, and is counted.
        if (!m_config.allow_errors && !call->traced) {
            std::ostringstream os;
            os << call->origin << " (" << kernel::syscall_name(call->op) << " of [0x" << std::hex << call->addr << ", 0x"
               << call->addr + call->len << std::dec << ")) failed with " << kernel::err::name(m_call.result)
               << ", as Linux would answer; fix the script, or set workload.script.allow_errors to true to count "
                  "failures and go on";
            fail(os.str());
        }
    }
    if (m_qk.need_sync()) m_qk.sync();
}

}  // namespace mmusim::core
