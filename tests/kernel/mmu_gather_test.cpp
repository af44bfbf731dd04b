// mmu_gather merge and flush rules (spec/kernel.md §3.1, §3.3, §3.4): one interval per
// gather (the hull of every recorded range), flushed at each tlb_end_vma and at
// tlb_finish_mmu; stride, last-level form and TTL hint from what was cleared; fullmm only
// flushes (by ASID) when tables were freed; escalation to flush_tlb_mm past the limits; KPTI
// doubling of every user TLBI. Most tests drive a TlbFlush whose DVM socket ends in a
// recorder, so that the VA, size and TTL of every TLBI can be checked. The Item5/Item8 tests
// cover the page side (mm/mmu_gather.c): batches of gathered pages, the forced flushes of
// zap_pte_range (a full gather, a dirty file folio) and freeing after the flush.
#include "tests/kernel/kernel_fixture.h"

#include <tlm_utils/simple_initiator_socket.h>
#include <tlm_utils/simple_target_socket.h>

#include <optional>
#include <vector>

#include "models/dvm/tlbi_ext.h"
#include "models/kernel/mmu_gather.h"

namespace mmusim::kernel::testing {
namespace {

using arch::TlbiOp;
using Gather = ::mmusim::kernel::MmuGather;

constexpr std::uint64_t kPage = 4096;
constexpr std::uint64_t kPmd = std::uint64_t{2} << 20;
constexpr std::uint64_t kBase = 0x40000000;  // 1 GiB aligned
constexpr std::uint16_t kAsid = 7;

// One TLBI as it reached the DVM fabric.
struct Issued {
    TlbiOp op;
    std::uint16_t asid;
    std::uint64_t va, bytes;
    unsigned ttl;
};

struct DvmRecorder : sc_core::sc_module {
    tlm_utils::simple_target_socket<DvmRecorder> socket;
    std::vector<Issued> ops;
    explicit DvmRecorder(sc_core::sc_module_name n) : sc_core::sc_module(n), socket("socket") {
        socket.register_b_transport(this, &DvmRecorder::b_transport);
    }
    void b_transport(tlm::tlm_generic_payload& trans, sc_core::sc_time& /*delay*/) {
        dvm::TlbiExt* ext = nullptr;
        trans.get_extension(ext);
        if (ext != nullptr) ops.push_back(Issued{ext->op, ext->asid, ext->va, ext->bytes, ext->ttl});
        trans.set_response_status(tlm::TLM_OK_RESPONSE);
    }
};

struct TlbiIssuer : sc_core::sc_module {
    tlm_utils::simple_initiator_socket<TlbiIssuer> socket;
    explicit TlbiIssuer(sc_core::sc_module_name n) : sc_core::sc_module(n), socket("socket") {}
};

class MmuGather : public KernelFixture {
protected:
    static KernelConfig plain(bool tlbirange = false, bool kpti = false) {
        KernelConfig c;
        c.granule = arch::Granule::K4;
        c.tlbirange = tlbirange;
        c.kpti = kpti;
        return c;
    }

    // A TlbFlush over the recorder, for an mm with ASID kAsid.
    void setup(const KernelConfig& c) {
        TearDown();
        sim::fresh_systemc_context();
        cfg_ = c;
        stats_ = KernelStats{};
        issuer_ = std::make_unique<TlbiIssuer>("issuer");
        recorder_ = std::make_unique<DvmRecorder>("recorder");
        issuer_->socket.bind(recorder_->socket);
        flush_ = std::make_unique<TlbFlush>(issuer_->socket, stats_, cfg_, delay_);
        mm_.asid = kAsid;
        sc_core::sc_start(sc_core::SC_ZERO_TIME);
    }

    Gather gather(bool fullmm = false) { return Gather(*flush_, mm_, fullmm, kPage, kPmd); }
    // One gather that records one range of cleared PTEs (or PMDs), then finishes.
    void flush_ptes(std::uint64_t addr, std::uint64_t size) {
        Gather tlb = gather();
        tlb.tlb_flush_pte_range(addr, size);
        tlb.tlb_finish_mmu();
    }
    void flush_pmds(std::uint64_t addr, std::uint64_t size) {
        Gather tlb = gather();
        tlb.tlb_flush_pmd_range(addr, size);
        tlb.tlb_finish_mmu();
    }
    const std::vector<Issued>& ops() const { return recorder_->ops; }
    std::uint64_t count(TlbiOp op) const { return stats_.tlbi[static_cast<std::size_t>(op)]; }
    std::uint64_t barriers(Barrier b) const { return stats_.barriers[static_cast<std::size_t>(b)]; }
    std::uint64_t all_barriers() const {
        std::uint64_t n = 0;
        for (const std::uint64_t v : stats_.barriers) n += v;
        return n;
    }
    void clear() {
        recorder_->ops.clear();
        stats_ = KernelStats{};
    }
    // Every recorded op is `op` for kAsid with hint `ttl`, at base, base + stride, ...
    void expect_singles(TlbiOp op, std::uint64_t base, std::uint64_t stride, std::size_t n, unsigned ttl) const {
        ASSERT_EQ(ops().size(), n);
        for (std::size_t i = 0; i < n; ++i) {
            EXPECT_EQ(ops()[i].op, op) << i;
            EXPECT_EQ(ops()[i].asid, kAsid) << i;
            EXPECT_EQ(ops()[i].va, base + i * stride) << i;
            EXPECT_EQ(ops()[i].ttl, ttl) << i;
        }
    }

    void TearDown() override {
        flush_.reset();
        recorder_.reset();
        issuer_.reset();
        KernelFixture::TearDown();
    }

    KernelConfig cfg_;
    KernelStats stats_;
    sc_core::sc_time delay_;
    Mm mm_;
    std::unique_ptr<TlbiIssuer> issuer_;
    std::unique_ptr<DvmRecorder> recorder_;
    std::unique_ptr<TlbFlush> flush_;
};

TEST_F(MmuGather, DisjointRangesFlushTheirHull) {
    setup(plain(/*tlbirange=*/true));
    {
        Gather tlb = gather();
        // Recorded out of order and with gaps: the interval is [min start, max end).
        tlb.tlb_flush_pte_range(kBase + 8 * kPage, kPage);
        tlb.tlb_flush_pte_range(kBase, kPage);
        tlb.tlb_flush_pte_range(kBase + 16 * kPage, 2 * kPage);
        EXPECT_EQ(tlb.start(), kBase);
        EXPECT_EQ(tlb.end(), kBase + 18 * kPage);
        tlb.tlb_finish_mmu();
        EXPECT_EQ(tlb.flushes(), 1u);
    }
    // 18 pages = 9 units of scale 0: one range op over the whole hull, gaps included.
    ASSERT_EQ(ops().size(), 1u);
    EXPECT_EQ(ops()[0].op, TlbiOp::RVALE1IS);
    EXPECT_EQ(ops()[0].asid, kAsid);
    EXPECT_EQ(ops()[0].va, kBase);
    EXPECT_EQ(ops()[0].bytes, 18 * kPage);
    EXPECT_EQ(ops()[0].ttl, 3u);
    EXPECT_EQ(barriers(Barrier::DsbIshst), 1u);
    EXPECT_EQ(barriers(Barrier::DsbIsh), 1u);

    // Without FEAT_TLBIRANGE: one op per page of the hull, two pages recorded, ten flushed.
    setup(plain());
    {
        Gather tlb = gather();
        tlb.tlb_flush_pte_range(kBase + 9 * kPage, kPage);
        tlb.tlb_flush_pte_range(kBase, kPage);
        tlb.tlb_finish_mmu();
    }
    expect_singles(TlbiOp::VALE1IS, kBase, kPage, 10, 3);
    EXPECT_EQ(count(TlbiOp::VALE1IS), 10u);
    EXPECT_EQ(barriers(Barrier::DsbIshst), 1u);
    EXPECT_EQ(barriers(Barrier::DsbIsh), 1u);
}

TEST_F(MmuGather, HullOfFarApartPagesEscalatesToFlushTlbMm) {
    setup(plain());
    {
        Gather tlb = gather();
        // Two single pages 2 MiB apart: a hull of 513 pages, past MAX_DVM_OPS.
        tlb.tlb_flush_pte_range(kBase, kPage);
        tlb.tlb_flush_pte_range(kBase + kPmd, kPage);
        tlb.tlb_finish_mmu();
    }
    ASSERT_EQ(ops().size(), 1u);
    EXPECT_EQ(ops()[0].op, TlbiOp::ASIDE1IS);
    EXPECT_EQ(ops()[0].asid, kAsid);
    EXPECT_EQ(count(TlbiOp::VALE1IS), 0u);
    EXPECT_EQ(barriers(Barrier::DsbIshst), 1u);
    EXPECT_EQ(barriers(Barrier::DsbIsh), 1u);
}

TEST_F(MmuGather, FlushesAtEachEndVmaSoTheHullNeverSpansTwoVmas) {
    setup(plain());
    Vma a, b;
    a.start = kBase;
    a.end = kBase + kPmd;
    b.start = kBase + 4 * kPmd;
    b.end = kBase + 5 * kPmd;
    Gather tlb = gather();
    tlb.tlb_start_vma(a);
    tlb.tlb_flush_pte_range(a.start + 3 * kPage, kPage);
    EXPECT_TRUE(ops().empty());  // deferred until the end of the VMA
    tlb.tlb_end_vma(a);
    expect_singles(TlbiOp::VALE1IS, a.start + 3 * kPage, kPage, 1, 3);
    EXPECT_TRUE(tlb.empty());
    tlb.tlb_start_vma(b);
    tlb.tlb_flush_pte_range(b.start, 2 * kPage);
    tlb.tlb_end_vma(b);
    // Two flushes of 1 and 2 pages (a hull over both VMAs would have escalated).
    ASSERT_EQ(ops().size(), 3u);
    EXPECT_EQ(ops()[1].va, b.start);
    EXPECT_EQ(ops()[2].va, b.start + kPage);
    EXPECT_EQ(count(TlbiOp::VALE1IS), 3u);
    EXPECT_EQ(count(TlbiOp::ASIDE1IS), 0u);
    EXPECT_EQ(barriers(Barrier::DsbIshst), 2u);
    EXPECT_EQ(barriers(Barrier::DsbIsh), 2u);
    // Nothing left for tlb_finish_mmu.
    tlb.tlb_finish_mmu();
    EXPECT_EQ(ops().size(), 3u);
    EXPECT_EQ(all_barriers(), 4u);
    EXPECT_EQ(tlb.flushes(), 2u);
}

TEST_F(MmuGather, FinishMmuFlushesWhatIsLeftAndNothingIfNothingWasRecorded) {
    setup(plain());
    Vma v;
    v.start = kBase;
    v.end = kBase + kPmd;
    {
        Gather tlb = gather();
        tlb.tlb_start_vma(v);
        tlb.tlb_end_vma(v);
        tlb.tlb_flush_mmu_tlbonly();
        tlb.tlb_finish_mmu();
        EXPECT_EQ(tlb.flushes(), 0u);
    }
    EXPECT_TRUE(ops().empty());
    EXPECT_EQ(all_barriers(), 0u);

    // Recorded outside any VMA bracket (as mprotect does): deferred to tlb_finish_mmu.
    Gather tlb = gather();
    tlb.tlb_flush_pte_range(kBase + 5 * kPage, 3 * kPage);
    EXPECT_TRUE(ops().empty());
    EXPECT_EQ(all_barriers(), 0u);
    tlb.tlb_finish_mmu();
    expect_singles(TlbiOp::VALE1IS, kBase + 5 * kPage, kPage, 3, 3);
    EXPECT_EQ(all_barriers(), 2u);
    EXPECT_EQ(tlb.flushes(), 1u);
    EXPECT_TRUE(tlb.empty());
}

TEST_F(MmuGather, PmdOnlyClearsUsePmdStrideAndLevel2) {
    setup(plain());
    {
        Gather tlb = gather();
        tlb.tlb_flush_pmd_range(kBase + kPmd, 2 * kPmd);
        tlb.tlb_flush_pmd_range(kBase + 4 * kPmd, kPmd);
        tlb.tlb_finish_mmu();
    }
    // Hull [kBase + 2M, kBase + 10M): four PMD-stride last-level ops with TTL 2.
    expect_singles(TlbiOp::VALE1IS, kBase + kPmd, kPmd, 4, 2);
    EXPECT_EQ(barriers(Barrier::DsbIshst), 1u);
    EXPECT_EQ(barriers(Barrier::DsbIsh), 1u);
}

TEST_F(MmuGather, MixedClearsUsePageStrideAndUnknownLevel) {
    setup(plain(/*tlbirange=*/true));
    {
        Gather tlb = gather();
        tlb.tlb_flush_pte_range(kBase, kPage);
        tlb.tlb_flush_pmd_range(kBase + kPmd, kPmd);
        tlb.tlb_finish_mmu();
    }
    // Page stride over [kBase, kBase + 4M): 1024 pages, one range op, last level, TTL 0.
    ASSERT_EQ(ops().size(), 1u);
    EXPECT_EQ(ops()[0].op, TlbiOp::RVALE1IS);
    EXPECT_EQ(ops()[0].va, kBase);
    EXPECT_EQ(ops()[0].bytes, 2 * kPmd);
    EXPECT_EQ(ops()[0].ttl, 0u);

    // Without FEAT_TLBIRANGE the same gather is 1024 page-stride ops: past MAX_DVM_OPS
    // (a PMD stride would have given two ops).
    setup(plain());
    {
        Gather tlb = gather();
        tlb.tlb_flush_pte_range(kBase, kPage);
        tlb.tlb_flush_pmd_range(kBase + kPmd, kPmd);
        tlb.tlb_finish_mmu();
    }
    ASSERT_EQ(ops().size(), 1u);
    EXPECT_EQ(ops()[0].op, TlbiOp::ASIDE1IS);
}

TEST_F(MmuGather, FreedTablesUseNonLastLevelFormsWithUnknownTtl) {
    // A freed table alone: PMD stride (pte_free_tlb records a PMD change), one VAE1IS.
    setup(plain());
    {
        Gather tlb = gather();
        tlb.pte_free_tlb(kBase + kPmd);
        tlb.tlb_finish_mmu();
    }
    expect_singles(TlbiOp::VAE1IS, kBase + kPmd, kPmd, 1, 0);
    EXPECT_EQ(count(TlbiOp::VALE1IS), 0u);

    // Cleared PTEs and their freed table: page stride, VAE1IS per page, TTL unknown.
    clear();
    {
        Gather tlb = gather();
        tlb.tlb_flush_pte_range(kBase, 4 * kPage);
        tlb.pte_free_tlb(kBase);
        tlb.tlb_finish_mmu();
    }
    expect_singles(TlbiOp::VAE1IS, kBase, kPage, 4, 0);
    EXPECT_EQ(count(TlbiOp::VALE1IS), 0u);

    // With FEAT_TLBIRANGE: RVAE1IS, not RVALE1IS.
    setup(plain(/*tlbirange=*/true));
    {
        Gather tlb = gather();
        tlb.tlb_flush_pte_range(kBase, 4 * kPage);
        tlb.pte_free_tlb(kBase);
        tlb.tlb_finish_mmu();
    }
    ASSERT_EQ(ops().size(), 1u);
    EXPECT_EQ(ops()[0].op, TlbiOp::RVAE1IS);
    EXPECT_EQ(ops()[0].va, kBase);
    EXPECT_EQ(ops()[0].bytes, 4 * kPage);
    EXPECT_EQ(ops()[0].ttl, 0u);
    EXPECT_EQ(count(TlbiOp::RVALE1IS), 0u);
}

TEST_F(MmuGather, FullmmFlushesNothingUnlessTablesWereFreed) {
    setup(plain());
    Vma v;
    v.start = kBase;
    v.end = kBase + 8 * kPmd;
    {
        Gather tlb = gather(/*fullmm=*/true);
        tlb.tlb_start_vma(v);
        tlb.tlb_flush_pte_range(kBase, 16 * kPage);
        tlb.tlb_flush_pmd_range(kBase + kPmd, kPmd);
        tlb.tlb_end_vma(v);
        tlb.tlb_finish_mmu();
    }
    EXPECT_TRUE(ops().empty());
    EXPECT_EQ(all_barriers(), 0u);

    // Tables freed: nothing at tlb_end_vma, then one flush_tlb_mm at tlb_finish_mmu.
    Gather tlb = gather(/*fullmm=*/true);
    tlb.tlb_start_vma(v);
    tlb.tlb_flush_pte_range(kBase, 16 * kPage);
    tlb.pte_free_tlb(kBase);
    tlb.tlb_end_vma(v);
    EXPECT_TRUE(ops().empty());
    EXPECT_EQ(all_barriers(), 0u);
    tlb.tlb_finish_mmu();
    ASSERT_EQ(ops().size(), 1u);
    EXPECT_EQ(ops()[0].op, TlbiOp::ASIDE1IS);
    EXPECT_EQ(ops()[0].asid, kAsid);
    EXPECT_EQ(barriers(Barrier::DsbIshst), 1u);
    EXPECT_EQ(barriers(Barrier::DsbIsh), 1u);
    EXPECT_EQ(all_barriers(), 2u);
}

TEST_F(MmuGather, EscalationWithoutTlbiRangeAtMaxDvmOpsStrides) {
    setup(plain());
    // Page stride: 511 pages go page by page, 512 by ASID.
    flush_ptes(kBase, 511 * kPage);
    EXPECT_EQ(count(TlbiOp::VALE1IS), 511u);
    EXPECT_EQ(count(TlbiOp::ASIDE1IS), 0u);
    clear();
    flush_ptes(kBase, 512 * kPage);
    EXPECT_EQ(count(TlbiOp::VALE1IS), 0u);
    EXPECT_EQ(count(TlbiOp::ASIDE1IS), 1u);
    // PMD stride: the limit is MAX_DVM_OPS strides, 511 PMDs go one op each, 512 by ASID.
    clear();
    flush_pmds(kBase, 511 * kPmd);
    EXPECT_EQ(count(TlbiOp::VALE1IS), 511u);
    EXPECT_EQ(count(TlbiOp::ASIDE1IS), 0u);
    ASSERT_EQ(ops().size(), 511u);
    EXPECT_EQ(ops().back().va, kBase + 510 * kPmd);
    EXPECT_EQ(ops().back().ttl, 2u);
    clear();
    flush_pmds(kBase, 512 * kPmd);
    EXPECT_EQ(count(TlbiOp::VALE1IS), 0u);
    EXPECT_EQ(count(TlbiOp::ASIDE1IS), 1u);
}

TEST_F(MmuGather, EscalationWithTlbiRangeOnlyPast2To21Pages) {
    setup(plain(/*tlbirange=*/true));
    // 512 pages: no escalation with range operations.
    flush_ptes(kBase, 512 * kPage);
    EXPECT_EQ(count(TlbiOp::RVALE1IS), 1u);
    EXPECT_EQ(count(TlbiOp::ASIDE1IS), 0u);
    // 2^21 pages (8 GiB): still a range flush, one op over all of it.
    clear();
    const std::uint64_t max_pages = std::uint64_t{1} << 21;
    flush_ptes(kBase, max_pages * kPage);
    ASSERT_EQ(ops().size(), 1u);
    EXPECT_EQ(ops()[0].op, TlbiOp::RVALE1IS);
    EXPECT_EQ(ops()[0].va, kBase);
    EXPECT_EQ(ops()[0].bytes, max_pages * kPage);
    // One page more: flush_tlb_mm.
    clear();
    flush_ptes(kBase, (max_pages + 1) * kPage);
    ASSERT_EQ(ops().size(), 1u);
    EXPECT_EQ(ops()[0].op, TlbiOp::ASIDE1IS);
    EXPECT_EQ(barriers(Barrier::DsbIshst), 1u);
    EXPECT_EQ(barriers(Barrier::DsbIsh), 1u);
}

TEST_F(MmuGather, KptiDoublesEachUserTlbiButNotTheBarriers) {
    setup(plain(/*tlbirange=*/false, /*kpti=*/true));
    flush_ptes(kBase, 3 * kPage);
    // Each op twice in a row, same VA (kernel then user ASID of the pair).
    ASSERT_EQ(ops().size(), 6u);
    for (std::size_t i = 0; i < 6; ++i) {
        EXPECT_EQ(ops()[i].op, TlbiOp::VALE1IS) << i;
        EXPECT_EQ(ops()[i].va, kBase + (i / 2) * kPage) << i;
    }
    EXPECT_EQ(barriers(Barrier::DsbIshst), 1u);
    EXPECT_EQ(barriers(Barrier::DsbIsh), 1u);
    // An escalated flush and a fullmm flush: ASIDE1IS twice each.
    clear();
    flush_ptes(kBase, 600 * kPage);
    EXPECT_EQ(count(TlbiOp::ASIDE1IS), 2u);
    EXPECT_EQ(ops().size(), 2u);
    clear();
    {
        Gather tlb = gather(/*fullmm=*/true);
        tlb.pte_free_tlb(kBase);
        tlb.tlb_finish_mmu();
    }
    EXPECT_EQ(count(TlbiOp::ASIDE1IS), 2u);
    EXPECT_EQ(ops().size(), 2u);
    EXPECT_EQ(all_barriers(), 2u);
}

TEST_F(MmuGather, KptiDoublesTheGatheredFlushOfTheKernel) {
    // Through the kernel's own TlbFlush and mm: the same gather with and without KPTI.
    std::uint64_t vale1is[2] = {0, 0}, ishst[2] = {0, 0};
    for (const bool kpti : {false, true}) {
        KernelConfig c = config();
        c.kpti = kpti;
        build(c);
        mark();
        {
            Gather tlb(kernel->tlb_flush(), kernel->mm(), false, kPage, kPmd);
            tlb.tlb_flush_pte_range(kBase, kPage);
            tlb.tlb_flush_pte_range(kBase + 4 * kPage, kPage);
            tlb.tlb_finish_mmu();
        }
        const Delta d = delta();
        vale1is[kpti] = d.tlbi_op(TlbiOp::VALE1IS);
        ishst[kpti] = d.dsb_ishst;
        EXPECT_EQ(d.tlbi, d.tlbi_op(TlbiOp::VALE1IS)) << kpti;
        EXPECT_EQ(d.dsb_ish, 1u) << kpti;
    }
    EXPECT_EQ(vale1is[0], 5u);  // the hull: 5 pages
    EXPECT_EQ(vale1is[1], 10u);
    EXPECT_EQ(ishst[0], 1u);
    EXPECT_EQ(ishst[1], 1u);
}

// ---- the page side: batches, forced flushes, freeing after the flush ---------------------

// MMU_GATHER_BUNDLE = 8 slots in the gather, then up to MAX_GATHER_BATCH_COUNT batch pages of
// MAX_GATHER_BATCH slots (4K: 510 and 19); a batch is full with one slot left, so 7 + 19 * 509
// order-0 pages fit, and the next one reports a full gather (__tlb_remove_folio_pages true).
// After tlb_flush_mmu the batch pages are kept and reused, so a second round allocates none.
TEST_F(MmuGather, Item5_FullGatherBatchForcesAFlush) {
    setup(plain());
    Gather tlb = gather();
    EXPECT_EQ(tlb.max_gather_batch(), 510u);
    EXPECT_EQ(tlb.max_gather_batch_count(), 19u);
    constexpr unsigned kCapacity = 7 + 19 * 509;  // 9678
    for (unsigned round = 0; round < 2; ++round) {
        for (unsigned i = 1; i < kCapacity; ++i) ASSERT_FALSE(tlb.__tlb_remove_folio_pages(0x100000 + i, 1, false)) << i;
        EXPECT_TRUE(tlb.__tlb_remove_folio_pages(0x100000, 1, false));
        EXPECT_EQ(tlb.batch_count(), 19u);
        EXPECT_EQ(tlb.gathered_slots(), kCapacity);
        tlb.tlb_flush_mmu();
        EXPECT_EQ(tlb.gathered_slots(), 0u);
    }
    EXPECT_EQ(stats_.gather_batch_pages, 19u);
    tlb.tlb_finish_mmu();
    EXPECT_EQ(tlb.batch_count(), 0u);
    // Larger pages: 16K has 2046-slot batches and 4 of them, 64K 8190 and 1.
    for (const std::uint64_t page : {std::uint64_t{16384}, std::uint64_t{65536}}) {
        Gather g(*flush_, mm_, false, page, kPmd);
        EXPECT_EQ(g.max_gather_batch(), (page - 16) / 8);
        EXPECT_EQ(g.max_gather_batch_count(), 10000 / ((page - 16) / 8));
    }
}

// A large folio's batch (nr > 1) is one entry of two slots (page, then nr_pages), since v6.9's
// "mm/mmu_gather: add __tlb_remove_folio_pages()": 4 in the bundle, 255 per batch page.
TEST_F(MmuGather, Item5_LargeFolioBatchesTakeTwoSlots) {
    setup(plain());
    Gather tlb = gather();
    constexpr unsigned kEntries = 4 + 19 * 255;  // 4849 folios of 16 pages
    for (unsigned i = 1; i < kEntries; ++i) ASSERT_FALSE(tlb.__tlb_remove_folio_pages(0x100000 + 16 * i, 16, false)) << i;
    EXPECT_TRUE(tlb.__tlb_remove_folio_pages(0x100000, 16, false));
    EXPECT_EQ(tlb.gathered_slots(), 2u * kEntries);
    tlb.tlb_finish_mmu();
}

// With delayed rmaps pending, tlb_next_batch goes no further than the first batch page
// (tlb_flush_rmaps walks only the local and the active batch): 7 + 509 pages.
TEST_F(MmuGather, Item5_DelayedRmapsLimitTheGatherToOneBatchPage) {
    setup(plain());
    Gather tlb = gather();
    EXPECT_TRUE(tlb.tlb_delay_rmap());
    for (unsigned i = 1; i < 7 + 509; ++i) ASSERT_FALSE(tlb.__tlb_remove_folio_pages(0x100000 + i, 1, true)) << i;
    EXPECT_TRUE(tlb.__tlb_remove_folio_pages(0x100000, 1, true));
    EXPECT_EQ(tlb.batch_count(), 1u);
    tlb.tlb_flush_rmaps();
    EXPECT_FALSE(tlb.delayed_rmap());
    tlb.tlb_finish_mmu();
}

// Kernel-level checks: 4K pages, order-0 folios, no FEAT_TLBIRANGE.
class GatherZap : public KernelFixture {
protected:
    static constexpr std::uint64_t kVa = 0x40000000;  // 2 MiB aligned
    KernelConfig plain_config(const char* version = "6.17") const {
        KernelConfig c = config();
        c.version = *KernelVersion::parse(version);
        c.auto_layout = false;
        c.tlbirange = false;
        c.mthp_orders.clear();
        return c;
    }
    std::uint64_t pfn_of(std::uint64_t va) const { return arch::desc_pfn(pte(va), 12); }
    std::uint64_t mappings(std::uint64_t pfn) {
        const std::optional<Folio> f = kernel->folios().folio_of(pfn);
        if (!f) return 0;
        const Rmap::Info* info = kernel->rmap().find(f->head_pfn);
        return info == nullptr ? 0 : info->total();
    }
    bool allocated(std::uint64_t pfn) const { return kernel->folios().folio_of(pfn).has_value(); }
};

// munmap / MADV_DONTNEED of dirty shared file memory: each PTE table holding a dirty file
// folio is flushed at the end of zap_pte_range, before its lock is dropped
// (tlb_flush_mmu_tlbonly, then tlb_flush_rmaps), instead of once per VMA. One dirty page in
// each of two tables: two single-page flushes, where one flush of the VMA would cover a hull
// of 513 pages and escalate to the whole ASID. The same in every modelled version.
TEST_F(GatherZap, Item5_DirtySharedFileZapFlushesBeforeUnlock) {
    for (const char* version : {"6.9", "6.13", "6.17", "current"}) {
        for (const bool dontneed : {false, true}) {
            build(plain_config(version));
            ASSERT_EQ(mmap_kind(MapKind::File, kVa, 4u << 20, /*shared=*/true), 0);
            fault(kVa, arch::Access::Store);
            fault(kVa + (2u << 20), arch::Access::Store);
            const std::uint64_t pfn0 = pfn_of(kVa), pfn1 = pfn_of(kVa + (2u << 20));
            mark();
            const std::uint64_t forced0 = kernel->stats().gather_forced_flushes;
            if (dontneed) ASSERT_EQ(madvise(kVa, 4u << 20, Advice::DontNeed), 0);
            else ASSERT_EQ(range_call(SyscallOp::Munmap, kVa, 4u << 20), 0);
            const Delta d = delta();
            EXPECT_EQ(d.tlbi_op(arch::TlbiOp::VALE1IS), 2u) << version << dontneed;
            EXPECT_EQ(d.tlbi_op(arch::TlbiOp::ASIDE1IS), 0u) << version << dontneed;
            EXPECT_EQ(kernel->stats().gather_forced_flushes - forced0, 2u) << version << dontneed;
            // The delayed rmaps were removed (tlb_flush_rmaps); the page cache keeps the folios.
            EXPECT_EQ(mappings(pfn0), 0u);
            EXPECT_EQ(mappings(pfn1), 0u);
            EXPECT_TRUE(allocated(pfn0));
            EXPECT_TRUE(kernel->rmap().find(kernel->folios().folio_of(pfn0)->head_pfn)->dirty);  // folio_mark_dirty
        }
    }
    // Clean file pages (read faults) are not delayed: one flush of the VMA, escalated.
    build(plain_config());
    ASSERT_EQ(mmap_kind(MapKind::File, kVa, 4u << 20, /*shared=*/true), 0);
    fault(kVa, arch::Access::Load);
    fault(kVa + (2u << 20), arch::Access::Load);
    mark();
    ASSERT_EQ(madvise(kVa, 4u << 20, Advice::DontNeed), 0);
    EXPECT_EQ(delta().tlbi_op(arch::TlbiOp::ASIDE1IS), 1u);
    EXPECT_EQ(delta().tlbi_op(arch::TlbiOp::VALE1IS), 0u);
    EXPECT_EQ(kernel->stats().gather_forced_flushes, 0u);
}

// A zap of more pages than the gather holds (7 + 19 * 509 = 9678 order-0 pages) flushes and
// frees when the gather is full (force_flush + force_break), then goes on from the next entry
// with the batch pages it already has. 9778 pages: the first flush covers 9678 pages (past
// 512 strides: one ASIDE1IS), the last 100 pages go at tlb_end_vma page by page.
TEST_F(GatherZap, Item5_FullGatherForcesAFlushInTheMiddleOfAZap) {
    constexpr std::uint64_t kPages = 9678 + 100;
    build(plain_config());
    ASSERT_EQ(mmap_anon(kVa, kPages * kPage), 0);
    for (std::uint64_t i = 0; i < kPages; ++i) kernel->faults().handle_mm_fault(kernel->mm(), FaultRequest{kVa + i * kPage, arch::Access::Store, arch::FaultKind::Translation, 3});
    const std::uint64_t first = pfn_of(kVa), last = pfn_of(kVa + (kPages - 1) * kPage);
    mark();
    ASSERT_EQ(range_call(SyscallOp::Munmap, kVa, kPages * kPage), 0);
    const Delta d = delta();
    EXPECT_EQ(d.tlbi_op(arch::TlbiOp::ASIDE1IS), 1u);
    EXPECT_EQ(d.tlbi_op(arch::TlbiOp::VALE1IS), 100u);
    EXPECT_EQ(d.tlbi_op(arch::TlbiOp::VAE1IS), 20u);  // the 20 freed PTE tables, at tlb_finish_mmu
    EXPECT_EQ(kernel->stats().gather_forced_flushes, 1u);
    EXPECT_EQ(kernel->stats().gather_batch_pages, 19u);
    EXPECT_FALSE(allocated(first));
    EXPECT_FALSE(allocated(last));
}

// A zap frees nothing itself: zap_pte_range removes the rmap and queues the pages in the
// gather; tlb_end_vma flushes the TLB; the pages are freed by tlb_finish_mmu's tlb_flush_mmu
// (tlb_batch_pages_flush -> free_pages_and_swap_cache), after every flush of the gather.
TEST_F(GatherZap, Item8_PagesAreFreedAfterTheFlush) {
    build(plain_config());
    ASSERT_EQ(mmap_anon(kVa, 8 * kPage), 0);
    for (std::uint64_t i = 0; i < 8; ++i) fault(kVa + i * kPage, arch::Access::Store);
    std::vector<std::uint64_t> pfns;
    for (std::uint64_t i = 0; i < 8; ++i) pfns.push_back(pfn_of(kVa + i * kPage));
    Mm& mm = kernel->mm();
    const Vma vma = *mm.find_vma(kVa);
    mark();
    Gather tlb(kernel->tlb_flush(), mm, false, kPage, 2u << 20, &kernel->page_alloc());
    kernel->ops().unmap_page_range(tlb, mm, vma, kVa, kVa + 8 * kPage, ZapDetails{true});
    // The VMA's flush is done (tlb_end_vma), the pages are unmapped but still allocated.
    EXPECT_EQ(delta().tlbi_op(arch::TlbiOp::VALE1IS), 8u);
    for (const std::uint64_t pfn : pfns) {
        EXPECT_EQ(mappings(pfn), 0u);
        EXPECT_TRUE(allocated(pfn)) << pfn;
    }
    tlb.tlb_finish_mmu();
    for (const std::uint64_t pfn : pfns) EXPECT_FALSE(allocated(pfn)) << pfn;
    EXPECT_EQ(delta().tlbi_op(arch::TlbiOp::VALE1IS), 8u);  // freeing flushes nothing more
}

// Under DEBUG_PAGEALLOC, a zap opens a nested lazy-MMU section only when it allocates a
// gather batch page (tlb_next_batch -> __get_free_page inside zap_pte_range's section): from
// the 7th gathered page on, once per gather. The freed pages' linear-map updates come after
// the section (they are freed after the flush), each in its own section.
TEST_F(GatherZap, Item8_DebugPageallocNestingComesFromTheBatchPage) {
    for (const std::uint64_t pages : {std::uint64_t{6}, std::uint64_t{7}, std::uint64_t{64}}) {
        KernelConfig c = plain_config("current");
        c.debug_pagealloc = true;
        c.lazy_mmu = LazyMmuVariant::B;
        build(c);
        ASSERT_EQ(mmap_anon(kVa, pages * kPage), 0);
        for (std::uint64_t i = 0; i < pages; ++i) fault(kVa + i * kPage, arch::Access::Store);
        const LazyMmuStats before_lazy = kernel->lazy_stats();
        const std::uint64_t updates0 = kernel->stats().debug_pagealloc_updates;
        ASSERT_EQ(range_call(SyscallOp::Munmap, kVa, pages * kPage), 0);
        const LazyMmuStats& after = kernel->lazy_stats();
        const std::uint64_t batch = pages >= 7 ? 1 : 0;
        EXPECT_EQ(after.nested_sections - before_lazy.nested_sections, batch) << pages;
        // Outermost sections: the zap's, one per freed page, and the batch page's free.
        EXPECT_EQ(after.sections - before_lazy.sections, 1 + pages + batch) << pages;
        // Linear-map updates: each freed page, and the batch page mapped and unmapped.
        EXPECT_EQ(kernel->stats().debug_pagealloc_updates - updates0, pages + 2 * batch) << pages;
        EXPECT_EQ(kernel->stats().gather_batch_pages, batch) << pages;
    }
}

}  // namespace
}  // namespace mmusim::kernel::testing
