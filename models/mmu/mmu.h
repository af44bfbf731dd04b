// The MMU of one core: L1I, L1D and a unified L2 TLB in front of a table walker with its walk
// cache. Translation requests arrive on `cpu_socket` (TranslationExt), TLBIs on `dvm_socket`
// (TlbiExt); descriptors are read and hardware-updated through `mem_socket`, each access
// marked as this core's walker's (WalkerAccessExt) so that memory times it through the
// core's caches.
#pragma once

#include <cstdint>
#include <string>

#include <systemc>
#include <tlm>
#include <tlm_utils/simple_initiator_socket.h>
#include <tlm_utils/simple_target_socket.h>

#include "models/common/smp.h"
#include "models/memory/walker_access_ext.h"
#include "models/memory/word_access.h"
#include "models/mmu/descriptor_port.h"
#include "models/mmu/pmu.h"
#include "models/mmu/tlb.h"
#include "models/mmu/translation_ext.h"
#include "models/mmu/walk_cache.h"
#include "models/mmu/walker.h"

namespace mmusim::dvm {
struct TlbiExt;
}

namespace mmusim::mmu {

struct MmuConfig {
    TlbConfig l1i, l1d, l2;
    WalkerConfig walker;
    WalkCacheConfig walk_cache;  // entries 0: none
    unsigned core = 0;           // the core this MMU belongs to (whose caches its walks use)
    bool conflict_abort = true;  // a TLB conflict raises an abort (pre-BBML2 hardware)
    // Multi-core runs: while another core waits inside the kernel, each TLB hit is checked
    // against the descriptor in memory (stale_tlb_hits, stale_tlb_writes).
    const SmpState* smp = nullptr;
};

class Mmu : public sc_core::sc_module, private DescriptorPort {
public:
    tlm_utils::simple_target_socket<Mmu> cpu_socket;
    tlm_utils::simple_target_socket<Mmu> dvm_socket;
    tlm_utils::simple_initiator_socket<Mmu> mem_socket;

    Mmu(sc_core::sc_module_name name, const MmuConfig& config);

    // Translation context: the table base (TTBR0) and ASID of the running mm.
    void set_context(std::uint64_t ttbr, std::uint16_t asid) { m_ttbr = ttbr; m_asid = asid; }

    const PmuCounters& pmu() const { return m_pmu; }
    const MmuStats& stats() const { return m_stats; }
    const Tlb& l1i() const { return m_l1i; }
    const Tlb& l1d() const { return m_l1d; }
    const Tlb& l2() const { return m_l2; }
    const WalkCache& walk_cache() const { return m_walk_cache; }
    // Description of the last TLB conflict abort (entries involved), for the error report.
    const std::string& last_conflict() const { return m_last_conflict; }

private:
    void translate(tlm::tlm_generic_payload& trans, sc_core::sc_time& delay);
    void invalidate(tlm::tlm_generic_payload& trans, sc_core::sc_time& delay);
    unsigned invalidate_walk_cache(const dvm::TlbiExt& t);
    // Applies the permission check of a TLB entry, with the hardware dirty update of a store
    // through a writable-clean entry; returns the fault the access takes (None: allowed).
    arch::FaultKind use_entry(TlbEntry& entry, std::uint64_t va, arch::Access access, TranslationExt& ext,
                              sc_core::sc_time& delay);
    bool conflict(Tlb& tlb, const TlbLookup& hit, std::uint64_t va, TranslationExt& ext);
    // Counts a hit on an entry that no longer matches its descriptor in memory.
    void check_stale(const TlbEntry& entry, arch::Access access);
    void fault(TranslationExt& ext, tlm::tlm_generic_payload& trans, arch::FaultKind kind, unsigned level);

    std::uint64_t read_descriptor(std::uint64_t pa, sc_core::sc_time& delay) override;
    std::uint64_t cas_descriptor(std::uint64_t pa, std::uint64_t expected, std::uint64_t value,
                                 sc_core::sc_time& delay) override;

    MmuConfig m_config;
    Tlb m_l1i, m_l1d, m_l2;
    WalkCache m_walk_cache;  // before m_walker, which uses it
    Walker m_walker;
    std::uint64_t m_ttbr = 0;
    std::uint16_t m_asid = 0;
    PmuCounters m_pmu;
    MmuStats m_stats;
    std::string m_last_conflict;
    sc_core::sc_time m_l1_latency[2];  // [0] l1i, [1] l1d
    sc_core::sc_time m_l2_latency;
    unsigned m_page_shift;  // of the granule
    memory::WalkerAccessExt m_walker_access;  // on every access of m_words
    memory::WordAccess m_words;  // descriptor traffic, allocating nothing
};

}  // namespace mmusim::mmu
