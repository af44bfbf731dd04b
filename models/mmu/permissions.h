// EL0 permission check of a leaf descriptor (stage 1), with the FEAT_HAFDBS dirty-state rule:
// a store through a writable-clean entry (DBM=1, RDONLY=1) is allowed and makes the hardware
// clear RDONLY when hardware dirty management is on, and is a permission fault otherwise.
#pragma once

#include "models/arch/descriptor.h"
#include "models/arch/fault.h"

namespace mmusim::mmu {

enum class PermissionResult { Allowed, NeedsDirtyUpdate, Fault };

inline PermissionResult check_permission(arch::Desc d, arch::Access access, bool hafdbs) {
    using namespace arch::bits;
    switch (access) {
        case arch::Access::Ifetch:
            return (d & kUxn) != 0 ? PermissionResult::Fault : PermissionResult::Allowed;
        case arch::Access::Load:
            return (d & kUser) != 0 ? PermissionResult::Allowed : PermissionResult::Fault;
        case arch::Access::Store:
            if ((d & kUser) == 0) return PermissionResult::Fault;
            if ((d & kRdonly) == 0) return PermissionResult::Allowed;
            if ((d & kDbm) != 0 && hafdbs) return PermissionResult::NeedsDirtyUpdate;
            return PermissionResult::Fault;
    }
    return PermissionResult::Fault;
}

}  // namespace mmusim::mmu
