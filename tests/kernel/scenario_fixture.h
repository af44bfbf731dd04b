// The fixture of the spec/kernel.md §8 scenario tests (KernelScenario.ScenarioNN_...): a
// kernel with its memory, DVM and one MMU, plus helpers that set up a folded block.
#pragma once

#include "tests/kernel/kernel_fixture.h"

namespace mmusim::kernel::testing {

class KernelScenario : public KernelFixture {
public:
    static constexpr std::uint64_t kScriptBase = 0x40000000;  // 2 MiB aligned: one PTE table

protected:
    // Faults a page in the same PTE table as `block` (2 MiB) but another 64K block, so the
    // table exists and later counts hold no table allocation (layout "auto").
    void populate_table(std::uint64_t block = 0x10000000) { fault(block + 0x100000, arch::Access::Store); }

    KernelConfig scripted(const char* version = "6.17") const {
        KernelConfig c = config();
        c.auto_layout = false;
        c.tlbirange = true;
        c.mthp_orders = {4};
        c.version = *KernelVersion::parse(version);
        return c;
    }
    // A 2 MiB anonymous VMA with one folded 64K block at its start (and its table).
    void folded_block(const KernelConfig& c) {
        build(c);
        ASSERT_EQ(mmap_anon(kScriptBase, 2u << 20), 0);
        ASSERT_STREQ(fault(kScriptBase + 3 * 4096, arch::Access::Store), "anon_folio_large");
        ASSERT_TRUE(block_folded());
    }
    bool block_folded() const {
        for (unsigned i = 0; i < 16; ++i)
            if (!arch::desc_valid_cont(pte(kScriptBase + i * 4096))) return false;
        return true;
    }
    bool block_unfolded() const {
        for (unsigned i = 0; i < 16; ++i) {
            const arch::Desc e = pte(kScriptBase + i * 4096);
            if (!arch::desc_valid(e) || arch::desc_cont(e)) return false;
        }
        return true;
    }
};

}  // namespace mmusim::kernel::testing
