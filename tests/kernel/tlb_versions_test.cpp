// TLB maintenance and userfaultfd rules that changed between kernel versions, each checked on
// both sides of the release that changed it: the two forms of the REPEAT_TLBI workaround
// (arch/arm64/include/asm/tlbflush.h), flush_tlb_kernel_range before and after v6.13, the
// erratum 2645198 flush of modify_prot_start_ptes before and after v6.17
// (arch/arm64/mm/mmu.c), and arm64 uffd-wp from v6.10 (fs/userfaultfd.c).
#include "tests/kernel/scenario_fixture.h"

namespace mmusim::kernel::testing {
namespace {

using arch::TlbiOp;

constexpr std::uint64_t kBlock = KernelScenario::kScriptBase;
constexpr std::uint64_t kPage = 4096;
constexpr unsigned kRW = kProtRead | kProtWrite;
constexpr unsigned kRWX = kProtRead | kProtWrite | kProtExec;

class TlbVersions : public KernelScenario {
protected:
    void setup(const char* version, bool repeat_tlbi, bool tlbirange = true, bool kpti = false) {
        KernelConfig c = scripted(version);
        c.repeat_tlbi = repeat_tlbi;
        c.tlbirange = tlbirange;
        c.kpti = kpti;
        build(c);
    }
    TlbFlush& flush() { return kernel->tlb_flush(); }
    const Mm& mm() { return kernel->mm(); }
};

// The versions a config may name: the 6.x releases with the contpte engine (6.9 to 6.19, the
// last of the series) and the current tree; nothing older, no 6.x that never existed.
TEST(KernelVersionNames, SixNineToSixNineteenAndCurrent) {
    for (const char* ok : {"6.9", "6.10", "6.13", "6.19", "current"}) EXPECT_TRUE(KernelVersion::parse(ok).has_value()) << ok;
    for (const char* bad : {"6.8", "6.20", "6.99", "7.0", "5.15", "6", "6.x", "6.17.1", ""})
        EXPECT_FALSE(KernelVersion::parse(bad).has_value()) << bad;
    EXPECT_TRUE(KernelVersion::parse("6.19")->at_least(6, 17));
    EXPECT_TRUE(KernelVersion::parse("current")->at_least(6, 19));
}

// --- 2. REPEAT_TLBI --------------------------------------------------------------------------

// Up to v6.19 __TLBI_0/__TLBI_1 carry the workaround: every TLBI is TLBI; DSB ISH; TLBI,
// on the sync and nosync paths, for local ops and KPTI's user ops too.
TEST_F(TlbVersions, RepeatTlbiRepeatsEveryTlbiUpTo619) {
    for (const char* version : {"6.9", "6.19"}) {
        SCOPED_TRACE(version);
        setup(version, true);
        mark();
        flush().flush_tlb_page(mm(), kBlock);
        Delta d = delta();
        EXPECT_EQ(d.tlbi_op(TlbiOp::VALE1IS), 2u);
        EXPECT_EQ(d.dsb_ishst, 1u);
        EXPECT_EQ(d.dsb_ish, 2u);  // between the pair, and the completion
        mark();
        flush().flush_tlb_page_nosync(mm(), kBlock);
        d = delta();
        EXPECT_EQ(d.tlbi_op(TlbiOp::VALE1IS), 2u);
        EXPECT_EQ(d.dsb_ish, 1u);  // the one inside the pair
        mark();
        // 17 pages with FEAT_TLBIRANGE: one range op and one single op, each repeated.
        flush().flush_tlb_range(mm(), kBlock, kBlock + 17 * kPage, kPage, true, 3);
        d = delta();
        EXPECT_EQ(d.tlbi_op(TlbiOp::RVALE1IS), 2u);
        EXPECT_EQ(d.tlbi_op(TlbiOp::VALE1IS), 2u);
        EXPECT_EQ(d.dsb_ish, 3u);
        EXPECT_FALSE(flush().arch_tlbbatch_should_defer());  // reclaim does not batch
    }
    // The v6.19 local flush: its TLBI is repeated too, with a DSB ISH in between.
    mark();
    flush().local_flush_tlb_page(mm(), kBlock);
    const Delta d = delta();
    EXPECT_EQ(d.tlbi_op(TlbiOp::VALE1), 2u);
    EXPECT_EQ(d.dsb_ish, 1u);
    EXPECT_EQ(d.dsb_nshst, 1u);
    EXPECT_EQ(d.dsb_nsh, 1u);
    // KPTI: both the kernel-ASID and the user-ASID op are repeated.
    setup("6.19", true, true, true);
    mark();
    flush().flush_tlb_page(mm(), kBlock);
    EXPECT_EQ(delta().tlbi_op(TlbiOp::VALE1IS), 4u);
    EXPECT_EQ(delta().dsb_ish, 3u);
}

// The current tree ("arm64: tlb: Optimize ARM64_WORKAROUND_REPEAT_TLBI"): one TLBI VALE1IS
// and DSB ISH after each broadcast completion, none on nosync or local paths.
TEST_F(TlbVersions, RepeatTlbiAddsOneTlbiPerSyncPointInTheCurrentTree) {
    setup("current", true);
    mark();
    flush().flush_tlb_page_nosync(mm(), kBlock);
    Delta d = delta();
    EXPECT_EQ(d.tlbi, 1u);
    EXPECT_EQ(d.dsb_ish, 0u);
    mark();
    flush().flush_tlb_range(mm(), kBlock, kBlock + 17 * kPage, kPage, true, 3);
    d = delta();
    EXPECT_EQ(d.tlbi_op(TlbiOp::RVALE1IS), 1u);
    EXPECT_EQ(d.tlbi_op(TlbiOp::VALE1IS), 1u + 1u);  // the single op and the extra one
    EXPECT_EQ(d.dsb_ish, 2u);
    mark();
    flush().local_flush_tlb_page(mm(), kBlock);
    d = delta();
    EXPECT_EQ(d.tlbi, 1u);
    EXPECT_EQ(d.dsb_ish, 0u);
    EXPECT_TRUE(flush().arch_tlbbatch_should_defer());
}

TEST_F(TlbVersions, WithoutRepeatTlbiEachTlbiIsIssuedOnce) {
    for (const char* version : {"6.9", "current"}) {
        SCOPED_TRACE(version);
        setup(version, false);
        mark();
        flush().flush_tlb_range(mm(), kBlock, kBlock + 17 * kPage, kPage, true, 3);
        const Delta d = delta();
        EXPECT_EQ(d.tlbi, 2u);
        EXPECT_EQ(d.dsb_ish, 1u);
        EXPECT_TRUE(flush().arch_tlbbatch_should_defer());
    }
}

// --- 3. flush_tlb_kernel_range ---------------------------------------------------------------

constexpr std::uint64_t kKernelVa = KernelMappings::kVmallocBase;

// Up to v6.12: one VAALE1IS per page even with FEAT_TLBIRANGE; flush_tlb_all only when the
// range is more than MAX_TLBI_OPS (512) pages.
TEST_F(TlbVersions, FlushTlbKernelRangeIsPerPageUpTo612) {
    for (const bool tlbirange : {true, false}) {
        SCOPED_TRACE(tlbirange);
        setup("6.12", false, tlbirange);
        mark();
        flush().flush_tlb_kernel_range(kKernelVa, kKernelVa + 16 * kPage);
        Delta d = delta();
        EXPECT_EQ(d.tlbi_op(TlbiOp::VAALE1IS), 16u);
        EXPECT_EQ(d.tlbi, 16u);
        EXPECT_EQ(d.dsb_ishst, 1u);
        EXPECT_EQ(d.dsb_ish, 1u);
        EXPECT_EQ(d.isb, 1u);
        mark();
        flush().flush_tlb_kernel_range(kKernelVa, kKernelVa + 512 * kPage);  // exactly the limit
        d = delta();
        EXPECT_EQ(d.tlbi_op(TlbiOp::VAALE1IS), 512u);
        EXPECT_EQ(d.tlbi_op(TlbiOp::VMALLE1IS), 0u);
        mark();
        flush().flush_tlb_kernel_range(kKernelVa, kKernelVa + 513 * kPage);
        d = delta();
        EXPECT_EQ(d.tlbi_op(TlbiOp::VMALLE1IS), 1u);
        EXPECT_EQ(d.tlbi, 1u);
    }
}

// From v6.13 ("arm64: optimize flush tlb kernel range"): range ops with FEAT_TLBIRANGE, and
// the user-range rule without it (512 pages or more: flush_tlb_all).
TEST_F(TlbVersions, FlushTlbKernelRangeUsesRangeOpsFrom613) {
    for (const char* version : {"6.13", "current"}) {
        SCOPED_TRACE(version);
        setup(version, false, true);
        mark();
        flush().flush_tlb_kernel_range(kKernelVa, kKernelVa + 16 * kPage);
        Delta d = delta();
        EXPECT_EQ(d.tlbi_op(TlbiOp::RVAALE1IS), 1u);
        EXPECT_EQ(d.tlbi, 1u);
        EXPECT_EQ(d.isb, 1u);
        setup(version, false, false);
        mark();
        flush().flush_tlb_kernel_range(kKernelVa, kKernelVa + 512 * kPage);
        d = delta();
        EXPECT_EQ(d.tlbi_op(TlbiOp::VMALLE1IS), 1u);
        EXPECT_EQ(d.tlbi, 1u);
        mark();
        flush().flush_tlb_kernel_range(kKernelVa, kKernelVa + 511 * kPage);
        EXPECT_EQ(delta().tlbi_op(TlbiOp::VAALE1IS), 511u);
    }
}

// --- 4. Erratum 2645198 ----------------------------------------------------------------------

// From v6.17 the batched modify_prot_start_ptes passes nr * PAGE_SIZE as the end of its
// flush: the range wraps and the kernel flushes the whole mm (ASIDE1IS). Scenario 35.
TEST_F(TlbVersions, Erratum2645198FlushesTheWholeMmFrom617) {
    for (const char* version : {"6.17", "current"}) {
        SCOPED_TRACE(version);
        KernelConfig c = scripted(version);
        c.erratum_2645198 = true;
        build(c);
        ASSERT_EQ(mmap_anon(kBlock, 2u << 20, kRWX), 0);
        ASSERT_STREQ(fault(kBlock, arch::Access::Store), "anon_folio_large");
        mark();
        ASSERT_EQ(mprotect(kBlock, 16 * kPage, kRW), 0);
        const Delta d = delta();
        EXPECT_EQ(d.converts, 0u);
        EXPECT_EQ(d.tlbi_op(TlbiOp::ASIDE1IS), 1u);  // the immediate flush_tlb_mm
        EXPECT_EQ(d.tlbi_op(TlbiOp::RVALE1IS), 1u);  // the deferred gather flush
        EXPECT_EQ(d.tlbi, 2u);
        EXPECT_EQ(d.dsb_ish, 2u);
    }
}

// Up to v6.16 ptep_modify_prot_start reads the entry with ptep_get to test it for exec, then
// clears and flushes that one page (ptep_clear_flush): one more R and one page TLBI.
TEST_F(TlbVersions, Erratum2645198ReadsAndFlushesEachEntryUpTo616) {
    const auto mprotect_one_exec_page = [&](bool erratum) {
        KernelConfig c = scripted("6.16");
        c.mthp_orders.clear();
        c.erratum_2645198 = erratum;
        build(c);
        EXPECT_EQ(mmap_anon(kBlock, 2u << 20, kRWX), 0);
        EXPECT_STREQ(fault(kBlock, arch::Access::Store), "anon_folio_order0");
        mark();
        EXPECT_EQ(mprotect(kBlock, kPage, kRW), 0);
        return delta();
    };
    const Delta off = mprotect_one_exec_page(false);
    const Delta on = mprotect_one_exec_page(true);
    EXPECT_EQ(on.R, off.R + 1);
    EXPECT_EQ(on.X, off.X);
    EXPECT_EQ(on.tlbi_op(TlbiOp::VALE1IS), off.tlbi_op(TlbiOp::VALE1IS) + 1);  // flush_tlb_page
    EXPECT_EQ(on.tlbi_op(TlbiOp::ASIDE1IS), 0u);
    EXPECT_EQ(on.dsb_ishst, off.dsb_ishst + 1);
    EXPECT_EQ(on.dsb_ish, off.dsb_ish + 1);
}

// A folded block on v6.16: entry by entry, the first ptep_get reads the whole block, the
// first clear unfolds it, every entry is flushed on its own; the last commit refolds.
TEST_F(TlbVersions, Erratum2645198OnAFoldedBlockUpTo616) {
    const auto mprotect_block = [&](bool erratum) {
        KernelConfig c = scripted("6.16");
        c.erratum_2645198 = erratum;
        build(c);
        EXPECT_EQ(mmap_anon(kBlock, 2u << 20, kRWX), 0);
        EXPECT_STREQ(fault(kBlock, arch::Access::Store), "anon_folio_large");
        mark();
        EXPECT_EQ(mprotect(kBlock, 16 * kPage, kRW), 0);
        return delta();
    };
    const Delta off = mprotect_block(false);
    const Delta on = mprotect_block(true);
    EXPECT_EQ(on.converts, 2u);  // unfold at entry 0, fold at entry 15, as without the erratum
    EXPECT_EQ(off.converts, 2u);
    EXPECT_EQ(on.R, off.R + 17 + 15);  // ptep_get: the folded entry 0 (1 + 16), then 1 each
    EXPECT_EQ(on.tlbi_op(TlbiOp::VALE1IS), 16u);
    EXPECT_EQ(on.tlbi_op(TlbiOp::RVALE1IS), off.tlbi_op(TlbiOp::RVALE1IS));
}

// --- 5. arm64 uffd-wp from v6.10 -------------------------------------------------------------

TEST_F(TlbVersions, UffdWpRegisterIsEinvalOn69) {
    build(scripted("6.9"));
    ASSERT_EQ(mmap_anon(kBlock, 2u << 20), 0);
    EXPECT_EQ(uffd_register_wp(kBlock, 16 * kPage), -err::kEinval);
    EXPECT_FALSE(kernel->mm().find_vma(kBlock)->flags.uffd_wp);
    EXPECT_EQ(kernel->mm().vmas.size(), 1u);  // refused before the VMA is split
    EXPECT_EQ(kernel->stats().by_op.at("uffd_register").results.at("EINVAL"), 1u);
    // Missing mode alone is supported; write-protect calls then find no wp VMA (ENOENT).
    Syscall missing{};
    missing.op = SyscallOp::UffdRegister;
    missing.addr = kBlock;
    missing.len = 16 * kPage;
    missing.uffd_missing = true;
    EXPECT_EQ(sys(missing), 0);
    EXPECT_EQ(uffd_wp(kBlock, 16 * kPage), -err::kEnoent);
    // 6.10 has it.
    build(scripted("6.10"));
    ASSERT_EQ(mmap_anon(kBlock, 2u << 20), 0);
    EXPECT_EQ(uffd_register_wp(kBlock, 16 * kPage), 0);
    EXPECT_TRUE(kernel->mm().find_vma(kBlock)->flags.uffd_wp);
}

}  // namespace
}  // namespace mmusim::kernel::testing
