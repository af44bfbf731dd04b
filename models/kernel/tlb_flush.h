// TLB maintenance and barriers as the arm64 kernel issues them (spec/kernel.md §3, §4.1):
// every TLBI is a TLM transaction to the DVM fabric, every barrier a counted, costed event.
// KPTI doubles each user-ASID TLBI; the REPEAT_TLBI erratum repeats every TLBI after a DSB.ISH
// up to v6.19, and adds one TLBI + DSB.ISH at each broadcast completion in the current tree.
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

class Timeline;

// Told of each point where other cores may observe the page tables as they are: every
// inner-shareable DSB, once its cost is counted, and each store of a convert's make phase.
// The Kernel synchronises its core there in multi-core runs.
class TableObserver {
public:
    virtual void observable_point() = 0;

protected:
    ~TableObserver() = default;
};

class TlbFlush {
public:
    TlbFlush(tlm::tlm_initiator_socket<>& dvm, KernelStats& stats, const KernelConfig& config,
             sc_core::sc_time& delay);
    ~TlbFlush();
    TlbFlush(const TlbFlush&) = delete;
    TlbFlush& operator=(const TlbFlush&) = delete;

    // The core on whose behalf the kernel runs (target of local TLBI forms).
    void set_core(unsigned core) { m_core = core; }
    void set_observer(TableObserver* observer) { m_observer = observer; }
    // Where the kernel's events are recorded (null: nowhere); reached by every kernel part.
    void set_timeline(Timeline* timeline) { m_timeline = timeline; }
    Timeline* timeline() const { return m_timeline; }
    // The kernel's counters (the mmu_gather counts its batch pages and early flushes there).
    KernelStats& stats() { return m_stats; }
    // Multi-core runs: other cores may look at the tables between two stores of the caller.
    bool observed() const { return m_observer != nullptr; }
    void observable_point() {
        if (m_observer != nullptr) m_observer->observable_point();
    }

    void barrier(Barrier b);
    // emit_pte_barriers(): DSB.ISHST then ISB, making a table store visible to the walker.
    void emit_pte_barriers();
    // The __tlbi macro: one TLBI, issued as TLBI; DSB.ISH; TLBI under REPEAT_TLBI up to v6.19.
    void tlbi(arch::TlbiOp op, std::uint16_t asid, std::uint64_t va, std::uint64_t bytes, unsigned ttl);
    // arch_tlbbatch_should_defer: whether reclaim and migration may batch their flushes
    // (try_to_unmap_one, try_to_migrate_one, split_folio's unmap; false on REPEAT_TLBI CPUs
    // up to v6.19).
    bool arch_tlbbatch_should_defer() const;

    // flush_tlb_mm: DSB.ISHST, TLBI ASIDE1IS, DSB.ISH.
    void flush_tlb_mm(const Mm& mm);
    // flush_tlb_page[_nosync]: DSB.ISHST, TLBI VALE1IS (level 3) [, DSB.ISH].
    void flush_tlb_page_nosync(const Mm& mm, std::uint64_t va);
    void flush_tlb_page(const Mm& mm, std::uint64_t va);
    // local_flush_tlb_page (v6.19+): DSB.NSHST, TLBI VALE1, DSB.NSH.
    void local_flush_tlb_page(const Mm& mm, std::uint64_t va);
    // local_flush_tlb_contpte (v6.19+): DSB.NSHST, local ops over the block, DSB.NSH.
    void local_flush_tlb_contpte(const Mm& mm, std::uint64_t addr);

    struct RangeFlags {
        bool last_level = true;   // last-level forms (VALE1IS/RVALE1IS); else VAE1IS/RVAE1IS
        unsigned tlb_level = 0;   // TTL hint, 0 = unknown
        bool sync = true;         // trailing DSB.ISH
        bool local = false;       // TLBF_NOBROADCAST: local forms and local barriers
    };
    // __flush_tlb_range (§3.1): rounds to the stride, escalates to flush_tlb_mm past the
    // limits, else DSB.ISHST, the op sequence of §3.2, then DSB.ISH when sync.
    void flush_tlb_range(const Mm& mm, std::uint64_t start, std::uint64_t end, std::uint64_t stride,
                         const RangeFlags& flags);
    void flush_tlb_range(const Mm& mm, std::uint64_t start, std::uint64_t end, std::uint64_t stride,
                         bool last_level, unsigned tlb_level) {
        flush_tlb_range(mm, start, end, stride, RangeFlags{last_level, tlb_level, true, false});
    }
    // flush_tlb_kernel_range: DSB.ISHST, VAALE1IS ops (flush_tlb_all past the threshold),
    // DSB.ISH, ISB; per page up to v6.12, range ops from v6.13.
    void flush_tlb_kernel_range(std::uint64_t start, std::uint64_t end);
    // flush_tlb_all: DSB.ISHST, TLBI VMALLE1IS, DSB.ISH, ISB.
    void flush_tlb_all();

private:
    // __flush_tlb_range_limit_excess: whether [start, end) in `stride` steps is too much for
    // per-page or range TLBIs, so that the whole ASID (or TLB) is flushed instead. Without
    // FEAT_TLBIRANGE, MAX_DVM_OPS (= PTRS_PER_PTE) strides or more; with it, more than
    // MAX_TLBI_RANGE_PAGES pages.
    bool range_limit_excess(std::uint64_t start, std::uint64_t end, std::uint64_t stride) const;
    // One user-ASID op, doubled under KPTI.
    void user_tlbi(arch::TlbiOp op, std::uint16_t asid, std::uint64_t va, std::uint64_t bytes, unsigned ttl);
    // The completion barrier of a sync point (+ the REPEAT_TLBI workaround of the current tree).
    void sync_point(bool local);
    // One TLBI instruction: counted, costed, sent to the DVM.
    void tlbi_instruction(arch::TlbiOp op, std::uint16_t asid, std::uint64_t va, std::uint64_t bytes, unsigned ttl);
    // ARM64_WORKAROUND_REPEAT_TLBI in its two forms (by kernel version).
    bool repeat_tlbi_each_op() const;
    bool repeat_tlbi_at_sync() const;

    tlm::tlm_initiator_socket<>& m_dvm;
    KernelStats& m_stats;
    const KernelConfig& m_config;
    sc_core::sc_time& m_delay;
    unsigned m_core = 0;
    TableObserver* m_observer = nullptr;
    Timeline* m_timeline = nullptr;
    std::uint64_t m_pending_broadcasts = 0;  // broadcast TLBIs not yet completed by a DSB.ISH
    tlm::tlm_generic_payload m_trans;
    dvm::TlbiExt m_ext;
};

}  // namespace mmusim::kernel
