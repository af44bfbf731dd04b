// TLB maintenance and barriers as the arm64 kernel issues them (spec/kernel.md §3, §4.1):
// every TLBI is a TLM transaction to the DVM fabric, every barrier a counted, costed event.
#pragma once

#include <cstdint>

#include <systemc>
#include <tlm>

#include "models/arch/tlbi.h"
#include "models/dvm/tlbi_ext.h"
#include "models/kernel/kernel_config.h"
#include "models/kernel/kernel_stats.h"
#include "models/kernel/mm.h"

namespace mmusim::kernel {

class TlbFlush {
public:
    TlbFlush(tlm::tlm_initiator_socket<>& dvm, KernelStats& stats, const KernelConfig& config,
             sc_core::sc_time& delay);
    ~TlbFlush();
    TlbFlush(const TlbFlush&) = delete;
    TlbFlush& operator=(const TlbFlush&) = delete;

    // The core on whose behalf the kernel runs (target of local TLBI forms).
    void set_core(unsigned core) { m_core = core; }

    void barrier(Barrier b);
    // emit_pte_barriers(): DSB.ISHST then ISB, making a table store visible to the walker.
    void emit_pte_barriers();
    void tlbi(arch::TlbiOp op, std::uint16_t asid, std::uint64_t va, std::uint64_t bytes, unsigned ttl);

    // flush_tlb_mm: DSB.ISHST, TLBI ASIDE1IS, DSB.ISH.
    void flush_tlb_mm(const Mm& mm);
    // flush_tlb_page[_nosync]: DSB.ISHST, TLBI VALE1IS (level 3) [, DSB.ISH].
    void flush_tlb_page_nosync(const Mm& mm, std::uint64_t va);
    void flush_tlb_page(const Mm& mm, std::uint64_t va);
    // __flush_tlb_range (§3.1): rounds to the stride, escalates to flush_tlb_mm past the
    // limits, else DSB.ISHST, the op sequence of §3.2, DSB.ISH. `tlb_level` 0 = unknown.
    void flush_tlb_range(const Mm& mm, std::uint64_t start, std::uint64_t end, std::uint64_t stride,
                         bool last_level, unsigned tlb_level);

private:
    tlm::tlm_initiator_socket<>& m_dvm;
    KernelStats& m_stats;
    const KernelConfig& m_config;
    sc_core::sc_time& m_delay;
    unsigned m_core = 0;
    tlm::tlm_generic_payload m_trans;
    dvm::TlbiExt m_ext;
};

}  // namespace mmusim::kernel
