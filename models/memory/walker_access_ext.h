// TLM extension that marks an access as one of a core's table walker: PhysMem times it
// through that core's caches (CacheHierarchy) and says which level served it. An access
// without it is the kernel's: flat latency. The Mmu keeps one on its payload for good.
#pragma once

#include <tlm>

#include "models/memory/cache_hierarchy.h"

namespace mmusim::memory {

struct WalkerAccessExt : tlm::tlm_extension<WalkerAccessExt> {
    unsigned core = 0;                     // in: whose walker
    CacheLevel served = CacheLevel::None;  // out: where the access was served

    tlm::tlm_extension_base* clone() const override { return new WalkerAccessExt(*this); }
    void copy_from(const tlm::tlm_extension_base& other) override {
        *this = static_cast<const WalkerAccessExt&>(other);
    }
};

}  // namespace mmusim::memory
