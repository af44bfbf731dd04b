#include "models/kernel/tlb_flush.h"

#include "models/arch/granule.h"
#include "models/common/cycles.h"
#include "models/kernel/timeline.h"

namespace mmusim::kernel {

using arch::TlbiOp;

TlbFlush::TlbFlush(tlm::tlm_initiator_socket<>& dvm, KernelStats& stats, const KernelConfig& config,
                   sc_core::sc_time& delay)
    : m_dvm(dvm), m_stats(stats), m_config(config), m_delay(delay) {
    m_trans.set_command(tlm::TLM_IGNORE_COMMAND);
    m_trans.set_data_length(0);
    m_trans.set_extension(&m_ext);
}

TlbFlush::~TlbFlush() { m_trans.clear_extension(&m_ext); }

void TlbFlush::barrier(Barrier b) {
    if (m_timeline != nullptr) m_timeline->barrier(b);
    ++m_stats.barriers[static_cast<std::size_t>(b)];
    const KernelCosts& c = m_config.costs;
    std::uint64_t cost = 0;
    switch (b) {
        case Barrier::DsbIshst: cost = c.dsb_ishst; break;
        case Barrier::DsbIsh:
            // DSB.ISH waits until every broadcast TLBI issued before it has completed on all
            // the other cores.
            cost = c.dsb_ish + m_pending_broadcasts * c.tlbi_broadcast_per_core * (m_config.cores - 1);
            m_pending_broadcasts = 0;
            break;
        case Barrier::DsbNshst: cost = c.dsb_nshst; break;
        case Barrier::DsbNsh: cost = c.dsb_nsh; break;
        case Barrier::Isb: cost = c.isb; break;
        case Barrier::Count: break;
    }
    m_delay += cycles_to_time(cost);
    if (m_observer != nullptr && (b == Barrier::DsbIsh || b == Barrier::DsbIshst)) m_observer->observable_point();
}

void TlbFlush::emit_pte_barriers() {
    barrier(Barrier::DsbIshst);
    barrier(Barrier::Isb);
}

bool TlbFlush::repeat_tlbi_each_op() const {
    // Up to v6.19 the workaround sits in the __TLBI_0/__TLBI_1 asm: an ALTERNATIVE for
    // ARM64_WORKAROUND_REPEAT_TLBI turns every TLBI (local, nosync and KPTI user ops too)
    // into TLBI; DSB ISH; TLBI. "arm64: tlb: Optimize ARM64_WORKAROUND_REPEAT_TLBI"
    // (a8f78680ee6b, after v6.19; in the current tree) removed it from there and put one
    // TLBI VALE1IS, XZR + DSB ISH after each broadcast completion instead (sync_point).
    // Stable backports of that commit (e.g. 6.12.y) are not modelled: versions are mainline.
    return m_config.repeat_tlbi && !m_config.version.at_least(7, 0);
}

bool TlbFlush::repeat_tlbi_at_sync() const { return m_config.repeat_tlbi && m_config.version.at_least(7, 0); }

bool TlbFlush::arch_tlbbatch_should_defer() const {
    // Up to v6.19 reclaim does not batch its flushes on REPEAT_TLBI CPUs: with every TLBI
    // already followed by a DSB ISH, deferring the final DSB saves nothing. The rework
    // (a8f78680ee6b) made it return true always.
    return !repeat_tlbi_each_op();
}

void TlbFlush::tlbi(TlbiOp op, std::uint16_t asid, std::uint64_t va, std::uint64_t bytes, unsigned ttl) {
    tlbi_instruction(op, asid, va, bytes, ttl);
    if (repeat_tlbi_each_op()) {
        barrier(Barrier::DsbIsh);
        tlbi_instruction(op, asid, va, bytes, ttl);
    }
}

void TlbFlush::tlbi_instruction(TlbiOp op, std::uint16_t asid, std::uint64_t va, std::uint64_t bytes, unsigned ttl) {
    if (m_timeline != nullptr) m_timeline->tlbi(op, asid, va, bytes, ttl);
    ++m_stats.tlbi[static_cast<std::size_t>(op)];
    const bool broadcast = arch::tlbi_is_broadcast(op);
    ++(broadcast ? m_stats.tlbi_broadcast : m_stats.tlbi_local);
    if (broadcast) ++m_pending_broadcasts;
    m_delay += cycles_to_time(broadcast ? m_config.costs.tlbi_broadcast : m_config.costs.tlbi_local);
    m_ext.op = op;
    m_ext.asid = asid;
    m_ext.va = va;
    m_ext.bytes = bytes;
    m_ext.ttl = ttl;
    m_ext.source_core = m_core;
    m_trans.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
    m_dvm->b_transport(m_trans, m_delay);
}

void TlbFlush::user_tlbi(TlbiOp op, std::uint16_t asid, std::uint64_t va, std::uint64_t bytes, unsigned ttl) {
    tlbi(op, asid, va, bytes, ttl);
    // __tlbi_user: with KPTI the same operation again for the user half of the ASID pair.
    if (m_config.kpti) tlbi(op, asid, va, bytes, ttl);
}

void TlbFlush::sync_point(bool local) {
    barrier(local ? Barrier::DsbNsh : Barrier::DsbIsh);
    if (repeat_tlbi_at_sync() && !local) {
        // __tlbi_sync_s1ish (current tree): ARM64_WORKAROUND_REPEAT_TLBI completes broadcast
        // maintenance with one more TLBI VALE1IS, XZR and DSB ISH; local completion has none.
        tlbi_instruction(TlbiOp::VALE1IS, 0, 0, 0, 0);
        barrier(Barrier::DsbIsh);
    }
}

void TlbFlush::flush_tlb_mm(const Mm& mm) {
    barrier(Barrier::DsbIshst);
    user_tlbi(TlbiOp::ASIDE1IS, mm.asid, 0, 0, 0);
    sync_point(false);
}

void TlbFlush::flush_tlb_page_nosync(const Mm& mm, std::uint64_t va) {
    const std::uint64_t page = arch::geometry(m_config.granule).page_size();
    barrier(Barrier::DsbIshst);
    user_tlbi(TlbiOp::VALE1IS, mm.asid, va & ~(page - 1), 0, 3);
}

void TlbFlush::flush_tlb_page(const Mm& mm, std::uint64_t va) {
    flush_tlb_page_nosync(mm, va);
    sync_point(false);
}

void TlbFlush::local_flush_tlb_page(const Mm& mm, std::uint64_t va) {
    const std::uint64_t page = arch::geometry(m_config.granule).page_size();
    barrier(Barrier::DsbNshst);
    user_tlbi(TlbiOp::VALE1, mm.asid, va & ~(page - 1), 0, 3);
    sync_point(true);
}

void TlbFlush::local_flush_tlb_contpte(const Mm& mm, std::uint64_t addr) {
    const arch::Geometry& geo = arch::geometry(m_config.granule);
    addr &= ~(geo.cont_pte_size() - 1);
    flush_tlb_range(mm, addr, addr + geo.cont_pte_size(), geo.page_size(), RangeFlags{true, 3, true, true});
}

bool TlbFlush::range_limit_excess(std::uint64_t start, std::uint64_t end, std::uint64_t stride) const {
    const arch::Geometry& geo = arch::geometry(m_config.granule);
    return (!m_config.tlbirange && end - start >= geo.ptrs_per_table() * stride) ||
           (end - start) >> geo.page_shift > arch::kMaxTlbiRangePages;
}

void TlbFlush::flush_tlb_range(const Mm& mm, std::uint64_t start, std::uint64_t end, std::uint64_t stride,
                               const RangeFlags& flags) {
    const arch::Geometry& geo = arch::geometry(m_config.granule);
    start &= ~(stride - 1);
    end = (end + stride - 1) & ~(stride - 1);
    const std::uint64_t pages = (end - start) >> geo.page_shift;
    if (range_limit_excess(start, end, stride)) {
        flush_tlb_mm(mm);
        return;
    }
    barrier(flags.local ? Barrier::DsbNshst : Barrier::DsbIshst);
    TlbiOp single = flags.last_level ? TlbiOp::VALE1IS : TlbiOp::VAE1IS;
    TlbiOp range = flags.last_level ? TlbiOp::RVALE1IS : TlbiOp::RVAE1IS;
    if (flags.local) {
        single = flags.last_level ? TlbiOp::VALE1 : TlbiOp::VAE1;
        range = TlbiOp::RVALE1;
    }
    arch::tlbi_range_ops(pages, stride >> geo.page_shift, m_config.tlbirange, [&](const arch::TlbiRangeOp& op) {
        const std::uint64_t va = start + (op.first_page << geo.page_shift);
        if (op.range) user_tlbi(range, mm.asid, va, op.pages << geo.page_shift, flags.tlb_level);
        else user_tlbi(single, mm.asid, va, 0, flags.tlb_level);
    });
    if (flags.sync) sync_point(flags.local);
}

void TlbFlush::flush_tlb_all() {
    barrier(Barrier::DsbIshst);
    tlbi(TlbiOp::VMALLE1IS, 0, 0, 0, 0);
    sync_point(false);
    barrier(Barrier::Isb);
}

void TlbFlush::flush_tlb_kernel_range(std::uint64_t start, std::uint64_t end) {
    const arch::Geometry& geo = arch::geometry(m_config.granule);
    const std::uint64_t page = geo.page_size();
    if (!m_config.version.at_least(6, 13)) {
        // Before "arm64: optimize flush tlb kernel range" (a923705c69f7, v6.13): more than
        // MAX_TLBI_OPS (PTRS_PER_PTE) pages of the unrounded range escalate to flush_tlb_all;
        // otherwise one VAALE1IS per page, whatever FEAT_TLBIRANGE says. The loop runs over
        // the TLBI operand (VA >> 12) in steps of one page.
        if (end - start > geo.ptrs_per_table() * page) {
            flush_tlb_all();
            return;
        }
        barrier(Barrier::DsbIshst);
        const std::uint64_t step = page >> 12;
        for (std::uint64_t a = start >> 12; a < end >> 12; a += step) tlbi(TlbiOp::VAALE1IS, 0, a << 12, 0, 0);
        sync_point(false);
        barrier(Barrier::Isb);
        return;
    }
    // v6.13 on: rounded to pages, the user-range escalation rule (flush_tlb_all past it) and
    // the range ops of __flush_tlb_range_op with FEAT_TLBIRANGE.
    start &= ~(page - 1);
    end = (end + page - 1) & ~(page - 1);
    const std::uint64_t pages = (end - start) >> geo.page_shift;
    if (range_limit_excess(start, end, page)) {
        flush_tlb_all();
        return;
    }
    barrier(Barrier::DsbIshst);
    arch::tlbi_range_ops(pages, 1, m_config.tlbirange, [&](const arch::TlbiRangeOp& op) {
        const std::uint64_t va = start + (op.first_page << geo.page_shift);
        if (op.range) tlbi(TlbiOp::RVAALE1IS, 0, va, op.pages << geo.page_shift, 0);
        else tlbi(TlbiOp::VAALE1IS, 0, va, 0, 0);
    });
    sync_point(false);
    barrier(Barrier::Isb);
}

}  // namespace mmusim::kernel
