// A Core replays one workload thread: each record is split at 4 KiB boundaries into
// translation requests sent to its Mmu (TLM b_transport); a fault goes to the Kernel, after
// which the request makes a new attempt (spec/mmu.md §3). Time is loosely timed with a
// quantum keeper: no context switch per access.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <systemc>
#include <tlm>
#include <tlm_utils/simple_initiator_socket.h>
#include <tlm_utils/tlm_quantumkeeper.h>

#include "models/common/smp.h"
#include "models/kernel/kernel_call_ext.h"
#include "models/kernel/mm.h"
#include "models/mmu/pmu.h"
#include "models/mmu/translation_ext.h"
#include "workloads/source.h"

namespace mmusim::core {

struct CoreConfig {
    unsigned id = 0;
    unsigned max_attempts = 8;  // attempts of one request before the run stops with an error
    bool allow_errors = false;  // a failing system call is counted (true) or ends the run
    std::uint64_t cpi_milli = 0;  // base cycles per instruction (thousandths), added per instruction fetch
    // Multi-core runs: the shared state, the workload thread this core runs, and whether that
    // thread waits for the spawn that starts it.
    SmpState* smp = nullptr;
    unsigned thread = 0;
    bool wait_for_spawn = false;
    // fold_policy "scanner": this core runs the background fold pass every this many cycles
    // of its own time (0: never).
    std::uint64_t fold_scan_interval = 0;
    // workload.trace.on_segv "count": an access the process would get SIGSEGV for is counted
    // and skipped instead of ending the run.
    bool count_segv = false;
    // Where the core finds the kind of mapping of a VA, to attribute its MMU's TLB misses
    // (mmu.by_vma); null: they are attributed to none.
    const kernel::VmaClassLookup* vmas = nullptr;
};

struct CoreStats {
    std::uint64_t records = 0;
    std::uint64_t requests = 0;   // translation requests (records split at 4 KiB)
    std::uint64_t attempts = 0;
    std::uint64_t inst_retired = 0;
    std::uint64_t kernel_cycles = 0;
    std::uint64_t cycles = 0;     // simulated time of the core when its stream ended
    std::uint64_t syscalls = 0;
    std::uint64_t syscall_errors = 0;  // calls answered with -errno (allow_errors)
    std::uint64_t context_switches = 0;
    std::uint64_t kernel_user_accesses = 0;  // requests of the kernel's accesses to user buffers (traced calls)
    std::uint64_t segv = 0;                  // accesses skipped: SIGSEGV (workload.trace.on_segv "count")
    // The MMU's TLB refills and walks by the kind of mapping of their VA, indexed by
    // VmaClass (those outside every VMA are in none).
    std::array<mmu::VmaTlbEvents, kernel::kVmaClassCount> by_vma{};
};

class Core : public sc_core::sc_module {
public:
    tlm_utils::simple_initiator_socket<Core> mmu_socket;
    tlm_utils::simple_initiator_socket<Core> kernel_socket;

    SC_HAS_PROCESS(Core);
    Core(sc_core::sc_module_name name, const CoreConfig& config, std::unique_ptr<workloads::Source> source);
    ~Core() override;

    const CoreStats& stats() const { return m_stats; }
    // Called at each checkpoint record of the workload (its index), at the core's current
    // time; the record takes no time and is not counted. Null: checkpoints are skipped.
    void set_checkpoint_hook(std::function<void(unsigned)> hook) { m_checkpoint = std::move(hook); }
    bool done() const { return m_done; }
    // Empty unless the run stopped on an error (a fatal fault, a bad trace line...).
    const std::string& error() const { return m_error; }
    // The record (1-based, counted from the start of the stream) the error stopped at.
    std::uint64_t error_record() const { return m_error_record; }

private:
    void run();
    void replay(const workloads::Record& r);
    // False when the access was counted as a SIGSEGV and dropped (on_segv "count").
    bool translate(std::uint64_t va, arch::Access access);
    // Attributes the events the last translation of `va` reported (m_ext.events), and clears them.
    void count_by_vma(std::uint64_t va);
    void kernel_call(const workloads::Record& r);
    void switch_to(unsigned process);
    // The background fold pass, when its time has come.
    void fold_scan();
    // One call into the kernel; a failure ends the run.
    // False when the call ended in a counted SIGSEGV.
    bool call_kernel(sc_core::sc_time& delay);
    // True when another core waits inside the kernel and this core has reached that time.
    bool reached_window_end() const {
        return m_config.smp != nullptr && m_config.smp->window_open && m_config.smp->window_core != m_config.id &&
               sc_core::sc_time_stamp() + m_qk.get_local_time() >= m_config.smp->window_end;
    }
    [[noreturn]] void fail(const std::string& message);

    CoreConfig m_config;
    std::unique_ptr<workloads::Source> m_source;
    std::vector<workloads::Record> m_buffer;
    tlm_utils::tlm_quantumkeeper m_qk;
    std::uint64_t m_cpi_carry = 0;  // thousandths of a cycle not yet added to the core's time
    tlm::tlm_generic_payload m_trans;
    mmu::TranslationExt m_ext;
    tlm::tlm_generic_payload m_call_trans;
    kernel::KernelCallExt m_call;
    CoreStats m_stats;
    tlm::tlm_generic_payload m_ctx_trans;
    mmu::TranslationExt m_ctx_ext;
    unsigned m_process = 0;
    sc_core::sc_time m_next_scan;  // when the next fold pass is due
    bool m_done = false;
    std::string m_error;
    std::uint64_t m_error_record = 0;
    std::function<void(unsigned)> m_checkpoint;
};

}  // namespace mmusim::core
