// TLM extension carried by a translation request from a Core to its Mmu: the access kind in,
// the outcome out. A fault comes back as TLM_GENERIC_ERROR_RESPONSE with `fault` set.
#pragma once

#include <cstdint>

#include <tlm>

#include "models/arch/fault.h"

namespace mmusim::mmu {

// The PMU events of one translation that are attributed to a kind of mapping (mmu.by_vma).
enum TranslationEvent : std::uint8_t {
    kEventL1dRefill = 1u << 0,  // L1D_TLB_REFILL
    kEventL1iRefill = 1u << 1,  // L1I_TLB_REFILL
    kEventDtlbWalk = 1u << 2,   // DTLB_WALK
    kEventItlbWalk = 1u << 3,   // ITLB_WALK
};

struct TranslationExt : tlm::tlm_extension<TranslationExt> {
    arch::Access access = arch::Access::Load;
    // Set: not a translation; the MMU switches to this address space (TTBR0, ASID).
    bool context_switch = false;
    std::uint64_t ttbr = 0;
    std::uint16_t asid = 0;
    // Out:
    arch::FaultKind fault = arch::FaultKind::None;
    unsigned fault_level = 0;
    std::uint64_t pa = 0;
    // For a TLB conflict abort: which entries collided (owned by the Mmu, valid until its
    // next conflict). Null otherwise.
    const char* detail = nullptr;
    // TranslationEvent bits of the events counted since the requester last cleared them. The
    // Mmu only sets bits, and only on the miss path, so that a TLB hit costs nothing more; the
    // requester clears them once it has attributed them.
    std::uint8_t events = 0;

    void note(TranslationEvent e) { events = static_cast<std::uint8_t>(events | e); }

    tlm::tlm_extension_base* clone() const override { return new TranslationExt(*this); }
    void copy_from(const tlm::tlm_extension_base& other) override {
        *this = static_cast<const TranslationExt&>(other);
    }
};

}  // namespace mmusim::mmu
