// A TLB conflict produced on purpose (spec/mmu.md §2.4): with BBML2_NOABORT a fold skips its
// TLBI, so a 4K entry cached before the fold and the new 64K block entry both cover a VA.
// Once with the page-table API called directly, once through the kernel's own mprotect flow.
#include "tests/kernel/kernel_fixture.h"

namespace mmusim::kernel::testing {
namespace {

using namespace arch::bits;
constexpr std::uint64_t kBlock = 0x30000000;
constexpr std::uint64_t kPage = 4096;
constexpr arch::Desc kProt = kValid | kType | kUser | kShInner | kAf | kNg | kPxn | kDbm | kSwDirty;

class TlbConflict : public KernelFixture {
protected:
    // Maps the block page by page (the last store folds it) after caching page 0's 4K entry.
    void fold_behind_a_cached_entry() {
        KernelConfig c = config();
        c.bbml2_noabort = true;
        build(c);
        fault(kBlock + 0x100000, arch::Access::Store);  // the PTE table
        const Folio folio = *kernel->folios().alloc(4);
        const auto set = [&](unsigned i) {
            kernel->pgtable().set_pte_at(kernel->mm(), kBlock + i * kPage, pte_pa(kBlock + i * kPage),
                                         arch::desc_with_pfn(kProt, folio.head_pfn + i, 12));
        };
        set(0);
        ASSERT_EQ(translate(kBlock, arch::Access::Load).fault, arch::FaultKind::None);  // 4K entry cached
        for (unsigned i = 1; i < 16; ++i) set(i);
        ASSERT_EQ(kernel->stats().folds, 1u);
        ASSERT_EQ(kernel->stats().tlbi[static_cast<std::size_t>(arch::TlbiOp::RVALE1IS)] +
                      kernel->stats().tlbi[static_cast<std::size_t>(arch::TlbiOp::VALE1IS)], 0u);
        // Another page of the block: walked, the 64K block entry is filled.
        ASSERT_EQ(translate(kBlock + 5 * kPage, arch::Access::Load).fault, arch::FaultKind::None);
    }

    // An access as a core makes it: a fault goes to the kernel, then the access is retried.
    void access(std::uint64_t va, arch::Access a) {
        for (unsigned attempt = 0; attempt < 4; ++attempt) {
            const mmu::TranslationExt r = translate(va, a);
            if (r.fault == arch::FaultKind::None) return;
            ASSERT_NE(r.fault, arch::FaultKind::TlbConflict) << r.detail;
            (void)kernel->fault(0, FaultRequest{va, a, r.fault, r.fault_level});
        }
        FAIL() << "the access still faults";
    }

    // Scenario 7 under BBML2_NOABORT: mprotect of the block's last page to read-only unfolds
    // the block and back to read-write refolds it, each convert without its TLBI. The gathered
    // flush of each mprotect covers the changed page only, so the 4K entries that pages 0-14
    // got while the block was unfolded outlive the refold; a load of page 15 then caches the
    // new 64K entry beside them.
    void refold_behind_cached_pages(bool bbml2_noabort = true) {
        KernelConfig c = config();
        c.auto_layout = false;
        c.mthp_orders = {4};
        c.tlbirange = true;
        c.bbml2_noabort = bbml2_noabort;
        build(c);
        ASSERT_EQ(mmap_anon(kBlock, 2u << 20), 0);
        access(kBlock, arch::Access::Store);  // one 64K folio, written folded
        ASSERT_EQ(mprotect(kBlock + 15 * kPage, kPage, kProtRead), 0);
        for (unsigned i = 0; i < 16; ++i) access(kBlock + i * kPage, arch::Access::Load);
        ASSERT_EQ(mprotect(kBlock + 15 * kPage, kPage, kProtRead | kProtWrite), 0);
        ASSERT_EQ(kernel->stats().unfolds, 1u);
        ASSERT_EQ(kernel->stats().folds, 1u);
        ASSERT_EQ(mmu_->stats().tlb_conflicts, 0u);
        ASSERT_EQ(translate(kBlock + 15 * kPage, arch::Access::Load).fault, arch::FaultKind::None);
        ASSERT_EQ(mmu_->stats().tlb_conflicts, 0u);  // page 15's 4K entry went with its flush
    }

    // Size of the entry covering `va` that the last lookup used (the most recently used one).
    static std::uint64_t last_used_size(const mmu::Tlb& tlb, std::uint64_t va) {
        const mmu::TlbEntry* best = nullptr;
        for (std::uint32_t s = 0; s < tlb.sets(); ++s) {
            const mmu::TlbEntry* set = tlb.set_entries(s);
            for (std::uint32_t w = 0; w < tlb.config().ways; ++w) {
                const mmu::TlbEntry& e = set[w];
                if (e.valid() && va >= e.region() && va < e.region() + e.size() && (best == nullptr || e.lru > best->lru))
                    best = &e;
            }
        }
        return best == nullptr ? 0 : best->size();
    }
};

TEST_F(TlbConflict, AbortsOnHardwareWithoutBbml2Semantics) {
    conflict_abort = true;
    fold_behind_a_cached_entry();
    const mmu::TranslationExt r = translate(kBlock, arch::Access::Load);
    EXPECT_EQ(r.fault, arch::FaultKind::TlbConflict);
    ASSERT_NE(r.detail, nullptr);
    const std::string detail = r.detail;
    EXPECT_NE(detail.find("VA 0x30000000"), std::string::npos) << detail;
    EXPECT_NE(detail.find("4K at VA 0x30000000"), std::string::npos) << detail;
    EXPECT_NE(detail.find("64K at VA 0x30000000"), std::string::npos) << detail;
    EXPECT_EQ(mmu_->stats().tlb_conflicts, 1u);
}

TEST_F(TlbConflict, Bbml2NoabortUsesTheSmallestEntry) {
    conflict_abort = false;
    fold_behind_a_cached_entry();
    const mmu::TranslationExt r = translate(kBlock + 0x10, arch::Access::Load);
    EXPECT_EQ(r.fault, arch::FaultKind::None);
    EXPECT_EQ(mmu_->stats().tlb_conflicts, 1u);
    EXPECT_EQ(mmu_->l1d().valid_entries(), 2u);  // the stale 4K and the block entry coexist
    EXPECT_EQ(last_used_size(mmu_->l1d(), kBlock), kPage);  // the smallest one was used
    // A TLBI of the block (the caller's own later flush) ends the conflict.
    kernel->tlb_flush().flush_tlb_range(kernel->mm(), kBlock, kBlock + 16 * kPage, kPage, true, 3);
    EXPECT_EQ(translate(kBlock, arch::Access::Load).fault, arch::FaultKind::None);
    EXPECT_EQ(mmu_->stats().tlb_conflicts, 1u);
}

TEST_F(TlbConflict, MprotectRefoldUnderBbml2AbortsWithoutBbml2Semantics) {
    conflict_abort = true;
    refold_behind_cached_pages();
    const mmu::TranslationExt r = translate(kBlock + 3 * kPage + 0x40, arch::Access::Load);
    EXPECT_EQ(r.fault, arch::FaultKind::TlbConflict);
    ASSERT_NE(r.detail, nullptr);
    const std::string detail = r.detail;
    EXPECT_NE(detail.find("load of VA 0x30003040"), std::string::npos) << detail;
    EXPECT_NE(detail.find("2 entries cover it"), std::string::npos) << detail;
    EXPECT_NE(detail.find("4K at VA 0x30003000"), std::string::npos) << detail;
    EXPECT_NE(detail.find("64K at VA 0x30000000"), std::string::npos) << detail;
    EXPECT_EQ(mmu_->stats().tlb_conflicts, 1u);
    // The kernel kills the process.
    EXPECT_THROW(kernel->fault(0, FaultRequest{kBlock + 3 * kPage, arch::Access::Load, r.fault, r.fault_level}),
                 KernelError);
}

TEST_F(TlbConflict, MprotectRefoldUnderBbml2NoabortUsesTheSmallestEntries) {
    conflict_abort = false;
    refold_behind_cached_pages();
    for (unsigned i = 0; i < 15; ++i) {
        const mmu::TranslationExt r = translate(kBlock + i * kPage, arch::Access::Load);
        EXPECT_EQ(r.fault, arch::FaultKind::None) << i;
        EXPECT_EQ(last_used_size(mmu_->l1d(), kBlock + i * kPage), kPage) << i;
    }
    EXPECT_EQ(mmu_->stats().tlb_conflicts, 15u);  // one per page that still has its 4K entry
    // Page 15 has only the block entry: no conflict there.
    EXPECT_EQ(translate(kBlock + 15 * kPage, arch::Access::Load).fault, arch::FaultKind::None);
    EXPECT_EQ(mmu_->stats().tlb_conflicts, 15u);
    // The next mprotect's flush of page 15 takes the block entry; the 4K ones are alone again.
    ASSERT_EQ(mprotect(kBlock + 15 * kPage, kPage, kProtRead), 0);
    EXPECT_EQ(translate(kBlock + 3 * kPage, arch::Access::Load).fault, arch::FaultKind::None);
    EXPECT_EQ(mmu_->stats().tlb_conflicts, 15u);
}

TEST_F(TlbConflict, MprotectRefoldWithItsTlbiLeavesNoConflict) {
    // Without BBML2_NOABORT each convert flushes the block (break-before-make): the refold
    // takes the 4K entries with it.
    conflict_abort = true;
    refold_behind_cached_pages(false);
    for (unsigned i = 0; i < 16; ++i) EXPECT_EQ(translate(kBlock + i * kPage, arch::Access::Load).fault, arch::FaultKind::None);
    EXPECT_EQ(mmu_->stats().tlb_conflicts, 0u);
    EXPECT_EQ(mmu_->l1d().valid_entries(), 1u);  // the 64K entry alone
}

}  // namespace
}  // namespace mmusim::kernel::testing
