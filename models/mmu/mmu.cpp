#include "models/mmu/mmu.h"

#include <sstream>

#include "models/arch/descriptor.h"
#include "models/arch/granule.h"
#include "models/arch/sizes.h"
#include "models/common/cycles.h"
#include "models/dvm/tlbi_ext.h"
#include "models/mmu/permissions.h"

namespace mmusim::mmu {

using arch::Access;
using arch::FaultKind;

Mmu::Mmu(sc_core::sc_module_name name, const MmuConfig& config)
    : sc_core::sc_module(name), cpu_socket("cpu_socket"), dvm_socket("dvm_socket"), mem_socket("mem_socket"),
      m_config(config), m_l1i(config.l1i), m_l1d(config.l1d), m_l2(config.l2),
      m_walk_cache(config.walk_cache, config.walker.granule), m_walker(config.walker, *this, &m_walk_cache),
      m_words(mem_socket) {
    cpu_socket.register_b_transport(this, &Mmu::translate);
    dvm_socket.register_b_transport(this, &Mmu::invalidate);
    m_l1_latency[0] = cycles_to_time(config.l1i.latency);
    m_l1_latency[1] = cycles_to_time(config.l1d.latency);
    m_l2_latency = cycles_to_time(config.l2.latency);
    m_page_shift = arch::geometry(config.walker.granule).page_shift;
    m_walker_access.core = config.core;
    m_words.mark_walker(&m_walker_access);
}

std::uint64_t Mmu::read_descriptor(std::uint64_t pa, sc_core::sc_time& delay) {
    const sc_core::sc_time before = delay;
    const std::uint64_t value = m_words.read(pa, delay);
    ++m_stats.walk_descriptor_reads;
    m_stats.walk_cycles += time_to_cycles(delay - before);
    switch (m_walker_access.served) {
        case memory::CacheLevel::None: break;  // no cache model: the flat memory latency
        case memory::CacheLevel::L1d: ++m_stats.walk_reads_l1d; break;
        case memory::CacheLevel::L2: ++m_stats.walk_reads_l2; break;
        case memory::CacheLevel::Llc: ++m_stats.walk_reads_llc; break;
        case memory::CacheLevel::Dram: ++m_stats.walk_reads_dram; break;
    }
    return value;
}

std::uint64_t Mmu::cas_descriptor(std::uint64_t pa, std::uint64_t expected, std::uint64_t value,
                                  sc_core::sc_time& delay) {
    const sc_core::sc_time before = delay;
    const std::uint64_t old = m_words.compare_and_swap(pa, expected, value, delay);
    m_stats.walk_cycles += time_to_cycles(delay - before);
    return old;
}

void Mmu::fault(TranslationExt& ext, tlm::tlm_generic_payload& trans, FaultKind kind, unsigned level) {
    ext.fault = kind;
    ext.fault_level = level;
    ++m_stats.faults;
    trans.set_response_status(tlm::TLM_GENERIC_ERROR_RESPONSE);
}

void Mmu::check_stale(const TlbEntry& entry, Access access) {
    const std::uint64_t now = m_words.peek(entry.desc_pa);
    if (!arch::desc_valid(now) || arch::desc_oa(now, m_page_shift) != arch::desc_oa(entry.desc, m_page_shift) ||
        arch::desc_cont(now) != arch::desc_cont(entry.desc)) {
        ++m_stats.stale_tlb_hits;
        if (access == Access::Store) ++m_stats.stale_tlb_writes;
        return;
    }
    // A writable-clean entry is not counted: its dirty update re-reads the descriptor.
    if (access == Access::Store && check_permission(now, access, m_config.walker.hafdbs) == PermissionResult::Fault &&
        check_permission(entry.desc, access, m_config.walker.hafdbs) == PermissionResult::Allowed) {
        ++m_stats.stale_tlb_hits;
        ++m_stats.stale_tlb_writes;
    }
}

FaultKind Mmu::use_entry(TlbEntry& entry, std::uint64_t va, Access access, TranslationExt& ext,
                         sc_core::sc_time& delay) {
    if (m_config.smp != nullptr && m_config.smp->window_open) check_stale(entry, access);
    switch (check_permission(entry.desc, access, m_config.walker.hafdbs)) {
        case PermissionResult::Allowed:
            break;
        case PermissionResult::NeedsDirtyUpdate: {
            // A store through a writable-clean cached entry: the hardware marks the one
            // descriptor dirty in memory, but only if that descriptor still allows it. If the
            // kernel changed it after this entry was cached (write-protected, cleared) and has
            // not invalidated the TLB yet, the store faults and the kernel resolves it.
            const HwUpdate u = m_walker.set_dirty(entry.desc_pa, entry.level, delay);
            if (u.fault != FaultKind::None) {
                ext.fault_level = entry.level;
                return u.fault;
            }
            m_stats.hw_access_flag_updates += u.af_updated ? 1 : 0;
            m_stats.hw_dirty_updates += u.dirty_updated ? 1 : 0;
            // The entry is used as writable from now on.
            entry.desc = (entry.desc | arch::bits::kAf) & ~arch::bits::kRdonly;
            break;
        }
        case PermissionResult::Fault:
            ext.fault_level = entry.level;
            return FaultKind::Permission;
    }
    ext.pa = entry.pa + (va - entry.region());
    return FaultKind::None;
}

// Returns true if the conflict aborts the access.
bool Mmu::conflict(Tlb& tlb, const TlbLookup& hit, std::uint64_t va, TranslationExt& ext) {
    ++m_stats.tlb_conflicts;
    if (!m_config.conflict_abort) return false;
    // Cold path: an abort ends the run, so describing the entries may allocate.
    std::ostringstream os;
    os << "TLB conflict abort on " << arch::access_name(ext.access) << " of VA 0x" << std::hex << va << " in "
       << tlb.config().name << ": " << std::dec << hit.matches << " entries cover it (";
    bool first = true;
    for (std::uint64_t size : tlb.config().sizes) {
        for (std::uint32_t s = 0; s < tlb.sets(); ++s) {
            const TlbEntry* set = tlb.set_entries(s);
            for (std::uint32_t w = 0; w < tlb.config().ways; ++w) {
                const TlbEntry& e = set[w];
                if (e.valid() && e.size() == size && va >= e.region() && va < e.region() + e.size()) {
                    os << (first ? "" : ", ") << arch::size_name(e.size()) << " at VA 0x" << std::hex << e.region()
                       << " -> PA 0x" << e.pa << std::dec;
                    first = false;
                }
            }
        }
    }
    os << ")";
    m_last_conflict = os.str();
    ext.detail = m_last_conflict.c_str();
    return true;
}

void Mmu::translate(tlm::tlm_generic_payload& trans, sc_core::sc_time& delay) {
    TranslationExt* ext = nullptr;
    trans.get_extension(ext);
    if (ext->context_switch) {
        // A context switch: the core now runs another address space (TTBR0 and ASID).
        set_context(ext->ttbr, ext->asid);
        trans.set_response_status(tlm::TLM_OK_RESPONSE);
        return;
    }
    const std::uint64_t va = trans.get_address();
    const Access access = ext->access;
    const bool ifetch = access == Access::Ifetch;
    const bool bbml2_pick = !m_config.conflict_abort;
    ext->fault = FaultKind::None;
    ext->detail = nullptr;
    trans.set_response_status(tlm::TLM_OK_RESPONSE);

    Tlb& l1 = ifetch ? m_l1i : m_l1d;
    (ifetch ? m_pmu.L1I_TLB : m_pmu.L1D_TLB) += 1;
    delay += m_l1_latency[ifetch ? 0 : 1];
    const TlbLookup hit1 = l1.lookup(va, m_asid, bbml2_pick);
    if (hit1.matches > 1 && conflict(l1, hit1, va, *ext)) return fault(*ext, trans, FaultKind::TlbConflict, 3);
    if (hit1.entry != nullptr) {
        const FaultKind f = use_entry(*hit1.entry, va, access, *ext, delay);
        if (f != FaultKind::None) fault(*ext, trans, f, ext->fault_level);
        return;
    }

    m_pmu.L2D_TLB += 1;
    delay += m_l2_latency;
    const TlbLookup hit2 = m_l2.lookup(va, m_asid, bbml2_pick);
    if (hit2.matches > 1 && conflict(m_l2, hit2, va, *ext)) return fault(*ext, trans, FaultKind::TlbConflict, 3);
    if (hit2.entry != nullptr) {
        TlbEntry& e = *hit2.entry;
        // Check (and, for a store through a writable-clean entry, mark dirty) first, so
        // that the L1 copy carries the updated descriptor. An attempt that faults refills
        // nothing (spec/mmu.md §4), as a walk that faults fills nothing: an L2 hit whose
        // entry forbids the access counts L2D_TLB and raises the fault, with no first-level
        // refill. A dirty update that succeeds is no fault: the refill uses the new entry.
        const FaultKind f = use_entry(e, va, access, *ext, delay);
        if (f != FaultKind::None) return fault(*ext, trans, f, ext->fault_level);
        (ifetch ? m_pmu.L1I_TLB_REFILL : m_pmu.L1D_TLB_REFILL) += 1;
        ext->note(ifetch ? kEventL1iRefill : kEventL1dRefill);
        l1.fill(va, m_asid, e.global(), e.size(), e.region(), e.pa, e.desc, e.desc_pa, e.level);
        return;
    }

    (ifetch ? m_pmu.ITLB_WALK : m_pmu.DTLB_WALK) += 1;
    ext->note(ifetch ? kEventItlbWalk : kEventDtlbWalk);
    const WalkResult walk = m_walker.walk(va, m_ttbr, m_asid, access, delay);
    if (walk.walk_cache_lookup) {
        ++m_stats.walk_cache_lookups;
        m_stats.walk_cache_hits += walk.walk_cache_level >= 0 ? 1 : 0;
        m_stats.walk_cycles += m_walk_cache.config().latency;
    }
    if (walk.fault != FaultKind::None) return fault(*ext, trans, walk.fault, walk.level);
    m_stats.hw_access_flag_updates += walk.af_updated ? 1 : 0;
    m_stats.hw_dirty_updates += walk.dirty_updated ? 1 : 0;
    m_pmu.L2D_TLB_REFILL += 1;
    (ifetch ? m_pmu.L1I_TLB_REFILL : m_pmu.L1D_TLB_REFILL) += 1;
    ext->note(ifetch ? kEventL1iRefill : kEventL1dRefill);
    const bool global = (walk.desc & arch::bits::kNg) == 0;
    m_l2.fill(va, m_asid, global, walk.size, walk.region_va, walk.region_pa, walk.desc, walk.desc_pa, walk.level);
    l1.fill(va, m_asid, global, walk.size, walk.region_va, walk.region_pa, walk.desc, walk.desc_pa, walk.level);
    ext->pa = walk.region_pa + (va - walk.region_va);
}

// The walk cache holds table descriptors: the TLBIs that invalidate all levels reach it, the
// last-level forms (VALE1, RVALE1, VAALE1 and their IS forms) do not. That is why Linux may
// use a last-level form only when no table was freed.
unsigned Mmu::invalidate_walk_cache(const dvm::TlbiExt& t) {
    switch (t.op) {
        case arch::TlbiOp::VAE1IS: case arch::TlbiOp::VAE1:
            return m_walk_cache.invalidate_va(t.va, t.asid);
        case arch::TlbiOp::RVAE1IS:
            return m_walk_cache.invalidate_range(t.va, t.va + t.bytes, t.asid);
        case arch::TlbiOp::ASIDE1IS: case arch::TlbiOp::ASIDE1:
            return m_walk_cache.invalidate_asid(t.asid);
        case arch::TlbiOp::VMALLE1IS: case arch::TlbiOp::Count:
            return m_walk_cache.invalidate_all();
        case arch::TlbiOp::VALE1IS: case arch::TlbiOp::VALE1: case arch::TlbiOp::RVALE1IS: case arch::TlbiOp::RVALE1:
        case arch::TlbiOp::VAALE1IS: case arch::TlbiOp::RVAALE1IS:
            return 0;
    }
    return 0;
}

void Mmu::invalidate(tlm::tlm_generic_payload& trans, sc_core::sc_time& /*delay*/) {
    dvm::TlbiExt* t = nullptr;
    trans.get_extension(t);
    ++m_stats.tlbi_received;
    m_stats.walk_cache_invalidated += invalidate_walk_cache(*t);
    for (Tlb* tlb : {&m_l1i, &m_l1d, &m_l2}) {
        switch (t->op) {
            case arch::TlbiOp::VALE1IS: case arch::TlbiOp::VAE1IS: case arch::TlbiOp::VALE1: case arch::TlbiOp::VAE1:
                tlb->invalidate_va(t->va, t->asid);
                break;
            case arch::TlbiOp::RVALE1IS: case arch::TlbiOp::RVAE1IS: case arch::TlbiOp::RVALE1:
                tlb->invalidate_range(t->va, t->va + t->bytes, t->asid);
                break;
            case arch::TlbiOp::ASIDE1IS: case arch::TlbiOp::ASIDE1:
                tlb->invalidate_asid(t->asid);
                break;
            case arch::TlbiOp::VAALE1IS:
                tlb->invalidate_va(t->va, t->asid, false);
                break;
            case arch::TlbiOp::RVAALE1IS:
                tlb->invalidate_range(t->va, t->va + t->bytes, t->asid, false);
                break;
            case arch::TlbiOp::VMALLE1IS: case arch::TlbiOp::Count:
                tlb->invalidate_all();
                break;
        }
    }
    trans.set_response_status(tlm::TLM_OK_RESPONSE);
}

}  // namespace mmusim::mmu
