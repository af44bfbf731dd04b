// Access types seen by the MMU and the fault classes it reports (stage 1, EL0).
#pragma once

#include <cstdint>
#include <string_view>

namespace mmusim::arch {

enum class Access : std::uint8_t { Ifetch = 0, Load = 1, Store = 2 };

// TlbConflict is the TLB conflict abort of spec/mmu.md §2.4 (pre-BBML2 hardware).
enum class FaultKind : std::uint8_t { None = 0, Translation, AccessFlag, Permission, TlbConflict };

inline std::string_view fault_kind_name(FaultKind k) {
    switch (k) {
        case FaultKind::None: return "none";
        case FaultKind::Translation: return "translation";
        case FaultKind::AccessFlag: return "access_flag";
        case FaultKind::Permission: return "permission";
        case FaultKind::TlbConflict: return "tlb_conflict";
    }
    return "?";
}

inline std::string_view access_name(Access a) {
    switch (a) {
        case Access::Ifetch: return "ifetch";
        case Access::Load: return "load";
        case Access::Store: return "store";
    }
    return "?";
}

}  // namespace mmusim::arch
