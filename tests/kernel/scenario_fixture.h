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
    // Scenario 28's set-up: a 2 MiB anonymous VMA with its PTE table, and a 64K anonymous folio
    // for its first block. The block's first entry, dirty, for set_ptes.
    arch::Desc half_batches_setup() {
        EXPECT_EQ(mmap_anon(kScriptBase, 2u << 20), 0);
        fault(kScriptBase + (1u << 20), arch::Access::Store);  // the PTE table
        const Folio f = *kernel->folios().alloc(4);
        kernel->rmap().info(f.head_pfn).anon = true;
        const arch::Desc prot = kernel->mm().find_vma(kScriptBase)->page_prot | arch::bits::kDbm | arch::bits::kSwDirty;
        return arch::desc_mkdirty(arch::desc_with_pfn(prot, f.head_pfn, 12));
    }
    // Scenario 28 itself: the block written by two set_ptes(8) from its first entry `e0`.
    void two_half_batches(arch::Desc e0) {
        const std::uint64_t head = arch::desc_pfn(e0, 12);
        kernel->pgtable().set_ptes(kernel->mm(), kScriptBase, pte_pa(kScriptBase), e0, 8);
        kernel->pgtable().set_ptes(kernel->mm(), kScriptBase + 8 * 4096, pte_pa(kScriptBase + 8 * 4096),
                                   arch::desc_with_pfn(e0, head + 8, 12), 8);
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
