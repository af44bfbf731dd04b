// TLM extension describing one TLBI instruction sent through the DVM fabric.
#pragma once

#include <cstdint>

#include <tlm>

#include "models/arch/tlbi.h"

namespace mmusim::dvm {

struct TlbiExt : tlm::tlm_extension<TlbiExt> {
    arch::TlbiOp op = arch::TlbiOp::VALE1IS;
    std::uint16_t asid = 0;
    std::uint64_t va = 0;     // first VA (VA and range forms)
    std::uint64_t bytes = 0;  // range forms: bytes covered from `va`
    unsigned ttl = 0;         // level hint (0 = unknown); carried for completeness
    unsigned source_core = 0; // issuing core: the only target of a local (non-IS) form

    tlm::tlm_extension_base* clone() const override { return new TlbiExt(*this); }
    void copy_from(const tlm::tlm_extension_base& other) override { *this = static_cast<const TlbiExt&>(other); }
};

}  // namespace mmusim::dvm
