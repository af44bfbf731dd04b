// Swap-out through MADV_PAGEOUT and swap-in on fault (models/kernel/vmscan.cpp,
// fault_swap.cpp): a folded 64K block leaves with one unfold and deferred page TLBIs, its
// entries become 16 swap entries of consecutive, aligned slots; a read fault brings it back as
// one 64K folio mapped by set_ptes(16), folded again (v6.13 on), or page by page before v6.13;
// v6.9 splits before swap-out; REPEAT_TLBI CPUs flush at once (VALE1IS, VAE1IS from v6.15);
// fork shares swap entries through the swap cache; munmap and MADV_FREE free the slots; no
// swap, and no free run of slots for a large folio (swpout_fallback); MADV_FREE'd (lazyfree)
// folios are discarded, not swapped, unless written again (then kept, and swapped next time).
#include "models/kernel/pte.h"
#include "tests/kernel/scenario_fixture.h"

namespace mmusim::kernel::testing {
namespace {

using arch::TlbiOp;

constexpr std::uint64_t kBase = KernelScenario::kScriptBase;
constexpr std::uint64_t kPage = 4096;
constexpr std::uint64_t kBlockSize = 16 * kPage;

class Swap : public KernelScenario {
protected:
    KernelConfig swapping(const char* version = "6.17", std::uint64_t swap = 64u << 20) const {
        KernelConfig c = scripted(version);
        c.swap_bytes = swap;
        return c;
    }
    int pageout(std::uint64_t addr, std::uint64_t len) { return madvise(addr, len, Advice::PageOut); }
    bool swapped(std::uint64_t va, unsigned process = 0) const { return is_swap_entry(pte(va, process)); }
    std::uint64_t slot(std::uint64_t va, unsigned process = 0) const { return swp_offset(pte(va, process)); }
    std::uint64_t pfn(std::uint64_t va, unsigned process = 0) const { return arch::desc_pfn(pte(va, process), 12); }
    const KernelStats& stats() const { return kernel->stats(); }
    std::uint64_t slots_used() const { return kernel->swap().slots_used(); }
    static std::uint64_t at(const std::map<std::uint64_t, std::uint64_t>& m, std::uint64_t size) {
        const auto it = m.find(size);
        return it == m.end() ? 0 : it->second;
    }
};

TEST_F(Swap, FoldedBlockLeavesWithOneUnfoldAndDeferredPageFlushes) {
    folded_block(swapping());
    const std::uint64_t head = pfn(kBase);
    mark();
    ASSERT_EQ(pageout(kBase, kBlockSize), 0);
    const Delta d = delta();
    // The first clear unfolds the block (one convert with its range TLBI); each entry's
    // TLBI is deferred (arch_tlbbatch_add_pending: VALE1IS, no DSB); the entries were dirty,
    // so try_to_unmap_flush_dirty completes them (one DSB.ISH) before the write-out.
    EXPECT_EQ(d.unfolds, 1u);
    EXPECT_EQ(d.converts, 1u);
    EXPECT_EQ(d.folds, 0u);
    EXPECT_EQ(d.tlbi_op(TlbiOp::RVALE1IS), 1u);
    EXPECT_EQ(d.tlbi_op(TlbiOp::VALE1IS), 16u);
    EXPECT_EQ(d.tlbi, 17u);
    EXPECT_EQ(d.dsb_ish, 2u);
    // Sixteen swap entries of consecutive slots from a 16-aligned one, exclusive (the pages
    // were PageAnonExclusive).
    const std::uint64_t first = slot(kBase);
    EXPECT_EQ(first % 16, 0u);
    for (unsigned i = 0; i < 16; ++i) {
        const arch::Desc e = pte(kBase + i * kPage);
        ASSERT_TRUE(is_swap_entry(e)) << i;
        EXPECT_EQ(swp_offset(e), first + i) << i;
        EXPECT_TRUE(pte_swp_exclusive(e)) << i;
        EXPECT_EQ(kernel->swap().count(first + i), 1u) << i;
    }
    EXPECT_FALSE(kernel->folios().folio_of(head).has_value());
    EXPECT_EQ(stats().swap_pages_out, 16u);
    EXPECT_EQ(at(stats().swap_out_by_size, kBlockSize), 1u);
    EXPECT_EQ(stats().swap_out_fallback, 0u);
    EXPECT_EQ(slots_used(), 1u + 16u);  // the header slot and the folio's
}

TEST_F(Swap, ReadFaultSwapsTheWholeFolioBackInAndRefoldsFrom613) {
    folded_block(swapping("6.13"));
    ASSERT_EQ(pageout(kBase, kBlockSize), 0);
    mark();
    EXPECT_STREQ(fault(kBase + 5 * kPage, arch::Access::Load), "swap_in_large");
    const Delta d = delta();
    // alloc_swap_folio finds the aligned 64K range all swap entries of consecutive slots:
    // one 64K folio, mapped by set_ptes(16), which writes the block folded (no TLBI: the
    // entries were not present).
    EXPECT_TRUE(block_folded());
    EXPECT_EQ(d.tlbi, 0u);
    EXPECT_EQ(d.blocks_cont, 1u);
    const std::uint64_t head = pfn(kBase);
    EXPECT_EQ(head % 16, 0u);
    EXPECT_EQ(kernel->folios().folio_of(head)->order, 4u);
    for (unsigned i = 0; i < 16; ++i) {
        const arch::Desc e = pte(kBase + i * kPage);
        EXPECT_EQ(arch::desc_pfn(e, 12), head + i) << i;
        // Exclusive and VM_WRITE: writable at once, clean (a read fault).
        EXPECT_TRUE(arch::desc_write(e)) << i;
        EXPECT_FALSE(arch::desc_dirty(e)) << i;
        EXPECT_TRUE(kernel->rmap().anon_exclusive(head + i)) << i;
    }
    EXPECT_EQ(stats().swap_pages_in, 16u);
    EXPECT_EQ(at(stats().swap_in_by_size, kBlockSize), 1u);
    EXPECT_EQ(slots_used(), 1u);  // every slot free again
    // A store needs no fault (writable-clean: hardware dirty state).
    EXPECT_EQ(translate(kBase + 9 * kPage, arch::Access::Store).fault, arch::FaultKind::None);
}

TEST_F(Swap, Before613SwapInIsPageByPageAndTheBlockStaysUnfolded) {
    folded_block(swapping("6.12"));
    ASSERT_EQ(pageout(kBase, kBlockSize), 0);
    for (unsigned i = 0; i < 16; ++i)
        EXPECT_STREQ(fault(kBase + i * kPage, arch::Access::Load), "swap_in") << i;
    EXPECT_TRUE(block_unfolded());
    EXPECT_EQ(at(stats().swap_in_by_size, kPage), 16u);
    EXPECT_EQ(stats().swap_pages_in, 16u);
    for (unsigned i = 0; i < 16; ++i) EXPECT_EQ(kernel->folios().folio_of(pfn(kBase + i * kPage))->order, 0u) << i;
}

TEST_F(Swap, Version69SplitsTheFolioBeforeSwappingItOut) {
    folded_block(swapping("6.9"));
    mark();
    ASSERT_EQ(pageout(kBase, kBlockSize), 0);
    // madvise_cold_or_pageout_pte_range splits every large folio in v6.9 (split_folio: the
    // block unfolded, migration entries, remapped as order-0 pages); each page is then
    // swapped on its own.
    EXPECT_EQ(stats().folio_splits, 1u);
    EXPECT_EQ(at(stats().swap_out_by_size, kPage), 16u);
    EXPECT_EQ(at(stats().swap_out_by_size, kBlockSize), 0u);
    EXPECT_EQ(stats().swap_out_fallback, 0u);
    for (unsigned i = 0; i < 16; ++i) EXPECT_TRUE(swapped(kBase + i * kPage)) << i;
    const Delta d = delta();
    EXPECT_EQ(d.unfolds, 1u);
    // DSB.ISH: the split's unfold (a convert), the split's try_to_unmap_flush, the walk's
    // flush_tlb_batched_pending after it (unmap_folio deferred its TLBIs and marked the mm),
    // and each order-0 folio's try_to_unmap_flush_dirty before its write-out.
    EXPECT_EQ(d.dsb_ish, 1u + 1u + 1u + 16u);
}

TEST_F(Swap, RepeatTlbiFlushesEachEntryAtOnceWithTheVersionsOp) {
    for (const char* version : {"6.14", "6.15"}) {
        KernelConfig c = swapping(version);
        c.repeat_tlbi = true;
        folded_block(c);
        mark();
        ASSERT_EQ(pageout(kBase, kBlockSize), 0);
        const Delta d = delta();
        // No deferral: ptep_clear_flush (VALE1IS) before v6.15, flush_tlb_range (VAE1IS, not
        // last level) from v6.15; each TLBI doubled with a DSB.ISH between (REPEAT_TLBI).
        const bool v615 = std::string(version) == "6.15";
        EXPECT_EQ(d.tlbi_op(v615 ? TlbiOp::VAE1IS : TlbiOp::VALE1IS), 2u * 16u) << version;
        EXPECT_EQ(d.tlbi_op(v615 ? TlbiOp::VALE1IS : TlbiOp::VAE1IS), 0u) << version;
        EXPECT_GE(d.dsb_ish, 16u) << version;
        for (unsigned i = 0; i < 16; ++i) EXPECT_TRUE(swapped(kBase + i * kPage)) << version << i;
    }
}

TEST_F(Swap, CleanEntriesShareOneFlushAtTheEndOfTheList) {
    // Two blocks swapped in by read faults (clean entries): swapped out again, neither asks
    // for try_to_unmap_flush_dirty; the list's end completes both blocks' TLBIs at once.
    build(swapping());
    ASSERT_EQ(mmap_anon(kBase, 2u << 20), 0);
    ASSERT_STREQ(fault(kBase, arch::Access::Store), "anon_folio_large");
    ASSERT_STREQ(fault(kBase + kBlockSize, arch::Access::Store), "anon_folio_large");
    ASSERT_EQ(pageout(kBase, 2 * kBlockSize), 0);
    ASSERT_STREQ(fault(kBase, arch::Access::Load), "swap_in_large");
    ASSERT_STREQ(fault(kBase + kBlockSize, arch::Access::Load), "swap_in_large");
    mark();
    ASSERT_EQ(pageout(kBase, 2 * kBlockSize), 0);
    const Delta d = delta();
    EXPECT_EQ(d.converts, 2u);           // each block's unfold
    // The two converts, one try_to_unmap_flush, and the walk's flush_tlb_batched_pending at
    // its start: the first pageout's deferred flushes left the mm marked (arm64 completes them
    // with a DSB.ISH), as any later table walker finds it.
    EXPECT_EQ(d.dsb_ish, 2u + 1u + 1u);
    EXPECT_EQ(d.tlbi_op(TlbiOp::VALE1IS), 32u);
    EXPECT_EQ(at(stats().swap_out_by_size, kBlockSize), 4u);
}

TEST_F(Swap, ForkSharesTheSlotsAndSwapInGoesThroughTheSwapCache) {
    build(swapping());
    ASSERT_EQ(mmap_anon(kBase, 2u << 20), 0);
    ASSERT_STREQ(fault(kBase, arch::Access::Store), "anon_folio_large");
    ASSERT_EQ(pageout(kBase, kBlockSize), 0);
    ASSERT_EQ(fork_child(1), 0);
    // copy_nonpresent_pte: both processes hold each slot, neither exclusively.
    const std::uint64_t first = slot(kBase);
    for (unsigned i = 0; i < 16; ++i) {
        EXPECT_FALSE(pte_swp_exclusive(pte(kBase + i * kPage))) << i;
        EXPECT_FALSE(pte_swp_exclusive(pte(kBase + i * kPage, 1))) << i;
        EXPECT_EQ(slot(kBase + i * kPage, 1), first + i) << i;
        EXPECT_EQ(kernel->swap().count(first + i), 2u) << i;
    }
    // The parent reads page 3: a shared slot skips no cache, so an order-0 folio is read into
    // the swap cache and mapped read-only (not exclusive).
    EXPECT_STREQ(fault(kBase + 3 * kPage, arch::Access::Load), "swap_in_cache");
    const arch::Desc parent = pte(kBase + 3 * kPage);
    EXPECT_FALSE(arch::desc_write(parent));
    EXPECT_EQ(kernel->swap().count(first + 3), 1u);
    // The child finds the folio in the swap cache: the same page, the slot's last reference.
    EXPECT_STREQ(fault(kBase + 3 * kPage, arch::Access::Load, arch::FaultKind::Translation, 1), "swap_cache");
    EXPECT_EQ(pfn(kBase + 3 * kPage, 1), pfn(kBase + 3 * kPage));
    EXPECT_EQ(kernel->swap().count(first + 3), 0u);
    EXPECT_FALSE(kernel->swap().in_use(first + 3));
    EXPECT_EQ(stats().swap_pages_in, 1u);
    // The parent's store copies the shared page (do_wp_page: mapped by two processes).
    EXPECT_STREQ(fault(kBase + 3 * kPage, arch::Access::Store, arch::FaultKind::Permission), "wp_copy");
    EXPECT_NE(pfn(kBase + 3 * kPage), pfn(kBase + 3 * kPage, 1));
    // Both exits give every slot back.
    ASSERT_EQ(exit_process(1), 0);
    EXPECT_EQ(kernel->swap().count(first), 1u);
    ASSERT_EQ(exit_process(0), 0);
    EXPECT_EQ(slots_used(), 1u);
}

TEST_F(Swap, MremapMovesSwapEntriesAndTheyComeBackFoldedThere) {
    folded_block(swapping());
    ASSERT_EQ(pageout(kBase, kBlockSize), 0);
    const std::uint64_t first = slot(kBase);
    const std::uint64_t to = kBase + (4u << 20);
    Syscall c;
    c.op = SyscallOp::Mremap;
    c.addr = kBase;
    c.len = kBlockSize;
    c.new_addr = to;
    ASSERT_EQ(sys(c), 0);
    for (unsigned i = 0; i < 16; ++i) {
        EXPECT_TRUE(swapped(to + i * kPage)) << i;
        EXPECT_EQ(slot(to + i * kPage), first + i) << i;
    }
    EXPECT_STREQ(fault(to + 7 * kPage, arch::Access::Store), "swap_in_large");
    for (unsigned i = 0; i < 16; ++i) {
        EXPECT_TRUE(arch::desc_valid_cont(pte(to + i * kPage))) << i;
        EXPECT_TRUE(arch::desc_dirty(pte(to + i * kPage))) << i;  // a write fault dirties the batch
    }
    EXPECT_EQ(slots_used(), 1u);
}

TEST_F(Swap, ADiskSwapsInPageByPageThroughTheSwapCache) {
    KernelConfig c = swapping();
    c.swap_synchronous = false;
    folded_block(c);
    ASSERT_EQ(pageout(kBase, kBlockSize), 0);
    // swapin_readahead: an order-0 folio in the swap cache; the entry was exclusive, so the
    // page is mapped writable, and its slot, now unreferenced, leaves the swap cache.
    EXPECT_STREQ(fault(kBase + 2 * kPage, arch::Access::Load), "swap_in_cache");
    EXPECT_TRUE(arch::desc_write(pte(kBase + 2 * kPage)));
    EXPECT_EQ(kernel->folios().folio_of(pfn(kBase + 2 * kPage))->order, 0u);
    EXPECT_FALSE(kernel->rmap().info(pfn(kBase + 2 * kPage)).swapcache);
    EXPECT_EQ(slots_used(), 1u + 15u);
    EXPECT_EQ(at(stats().swap_in_by_size, kPage), 1u);
}

TEST_F(Swap, MunmapAndMadvFreeGiveTheSlotsBack) {
    build(swapping());
    ASSERT_EQ(mmap_anon(kBase, 2u << 20), 0);
    ASSERT_STREQ(fault(kBase, arch::Access::Store), "anon_folio_large");
    ASSERT_STREQ(fault(kBase + kBlockSize, arch::Access::Store), "anon_folio_large");
    ASSERT_EQ(pageout(kBase, 2 * kBlockSize), 0);
    EXPECT_EQ(slots_used(), 1u + 32u);
    ASSERT_EQ(madvise(kBase, kBlockSize, Advice::Free), 0);
    EXPECT_EQ(slots_used(), 1u + 16u);
    for (unsigned i = 0; i < 16; ++i) EXPECT_EQ(pte(kBase + i * kPage), 0u) << i;
    ASSERT_EQ(range_call(SyscallOp::Munmap, kBase, 2u << 20), 0);
    EXPECT_EQ(slots_used(), 1u);
}

TEST_F(Swap, WithoutSwapAnonymousMemoryStays) {
    folded_block(swapping("6.17", 0));
    mark();
    ASSERT_EQ(pageout(kBase, kBlockSize), 0);
    EXPECT_TRUE(block_folded());
    EXPECT_EQ(delta().tlbi, 0u);
    EXPECT_EQ(stats().swap_full, 1u);
    EXPECT_EQ(stats().swap_pages_out, 0u);
}

TEST_F(Swap, NoFreeRunOfSlotsSplitsTheFolioAndSwapsItsPages) {
    // 2M of swap is one cluster, which the header slot gives to order 0: a 64K folio finds no
    // cluster of its own and falls back to base pages (swpout_fallback).
    folded_block(swapping("6.17", 2u << 20));
    ASSERT_EQ(pageout(kBase, kBlockSize), 0);
    EXPECT_EQ(stats().swap_out_fallback, 1u);
    EXPECT_EQ(stats().folio_splits, 1u);
    EXPECT_EQ(at(stats().swap_out_by_size, kPage), 16u);
    for (unsigned i = 0; i < 16; ++i) EXPECT_TRUE(swapped(kBase + i * kPage)) << i;
}

TEST_F(Swap, PmdThpIsSwappedWholeAndComesBackAsMthps) {
    KernelConfig c = swapping();
    c.thp = KernelConfig::Thp::Always;
    build(c);
    ASSERT_EQ(mmap_anon(kBase, 2u << 20), 0);
    ASSERT_STREQ(fault(kBase, arch::Access::Store), "anon_huge_pmd");
    ASSERT_EQ(pageout(kBase, 2u << 20), 0);
    // TTU_SPLIT_HUGE_PMD maps the THP by PTEs, each then becomes a swap entry; the THP is
    // written as one PMD-sized folio (THP_SWPOUT).
    EXPECT_EQ(at(stats().swap_out_by_size, 2u << 20), 1u);
    EXPECT_TRUE(swapped(kBase));
    EXPECT_TRUE(swapped(kBase + (2u << 20) - kPage));
    // Swap-in takes orders below PMD order only: the 64K mTHP.
    EXPECT_STREQ(fault(kBase + kBlockSize, arch::Access::Load), "swap_in_large");
    EXPECT_EQ(kernel->folios().folio_of(pfn(kBase + kBlockSize))->order, 4u);
}

TEST_F(Swap, FileMappingsAreRefusedWithAClearError) {
    build(swapping());
    ASSERT_EQ(mmap_kind(MapKind::File, kBase, 2u << 20), 0);
    try {
        pageout(kBase, kPage);
        FAIL() << "no error";
    } catch (const KernelError& e) {
        EXPECT_NE(std::string(e.what()).find("only private anonymous memory can be paged out"), std::string::npos) << e.what();
    }
    ends_mid_operation = true;
}

// MADV_FREE then MADV_PAGEOUT (checked against Linux 6.12 by configs/linux/swap_lazyfree.json):
// a lazyfree folio gets no swap slot; try_to_unmap_one discards its clean entries.
TEST_F(Swap, LazyfreeFolioIsDiscardedNotSwapped) {
    folded_block(swapping("6.12"));
    const std::uint64_t head = pfn(kBase);
    ASSERT_EQ(madvise(kBase, kBlockSize, Advice::Free), 0);
    ASSERT_EQ(pageout(kBase, kBlockSize), 0);
    for (unsigned i = 0; i < 16; ++i) EXPECT_EQ(pte(kBase + i * kPage), 0u) << i;
    EXPECT_FALSE(kernel->folios().folio_of(head).has_value());
    EXPECT_EQ(stats().lazyfreed, 16u);
    EXPECT_EQ(stats().lazyfree_kept, 0u);
    EXPECT_EQ(stats().swap_pages_out, 0u);
    EXPECT_EQ(slots_used(), 1u);  // the header slot only
    // The next write faults in a new 64K folio, a read elsewhere maps the zero page.
    EXPECT_STREQ(fault(kBase + 5 * kPage, arch::Access::Store), "anon_folio_large");
    EXPECT_STREQ(fault(kBase + kBlockSize, arch::Access::Load), "anon_zero_page");
}

TEST_F(Swap, LazyfreeFolioWrittenAgainIsKeptAndSwappedNextTime) {
    folded_block(swapping("6.12"));
    const std::uint64_t head = pfn(kBase);
    ASSERT_EQ(madvise(kBase, kBlockSize, Advice::Free), 0);
    ASSERT_TRUE(block_folded());
    ASSERT_EQ(translate(kBase + 7 * kPage, arch::Access::Store).fault, arch::FaultKind::None);  // DBM: no fault
    ASSERT_EQ(pageout(kBase, kBlockSize), 0);
    // The first clear unfolds the block, gathering the written page's dirty bit into every
    // entry: the first entry is dirty, put back (not folded: one set_pte_at), and the walk
    // stops. All 16 entries stay mapped, dirty; nothing is written to swap.
    EXPECT_TRUE(block_unfolded());
    for (unsigned i = 0; i < 16; ++i) {
        EXPECT_EQ(pfn(kBase + i * kPage), head + i) << i;
        EXPECT_TRUE(arch::desc_dirty(pte(kBase + i * kPage))) << i;
    }
    EXPECT_EQ(stats().swap_pages_out, 0u);
    EXPECT_EQ(stats().lazyfreed, 0u);
    EXPECT_EQ(stats().lazyfree_kept, 16u);
    // Swap-backed again: the next pageout swaps it whole.
    ASSERT_EQ(pageout(kBase, kBlockSize), 0);
    for (unsigned i = 0; i < 16; ++i) EXPECT_TRUE(swapped(kBase + i * kPage)) << i;
    EXPECT_EQ(at(stats().swap_out_by_size, kBlockSize), 1u);
}

TEST_F(Swap, From615AWrittenLazyfreeFolioIsPutBackInOneBatchAndStaysFolded) {
    folded_block(swapping("6.15"));
    ASSERT_EQ(madvise(kBase, kBlockSize, Advice::Free), 0);
    ASSERT_EQ(translate(kBase + 7 * kPage, arch::Access::Store).fault, arch::FaultKind::None);
    ASSERT_EQ(pageout(kBase, kBlockSize), 0);
    // folio_unmap_pte_batch: the 16 entries cleared at once, put back with set_ptes(16).
    EXPECT_TRUE(block_folded());
    EXPECT_EQ(stats().lazyfree_kept, 16u);
    EXPECT_EQ(stats().swap_pages_out, 0u);
}

TEST_F(Swap, LazyfreeOrderZeroPagesWrittenAgainAreKeptTheOthersDiscarded) {
    KernelConfig c = swapping("6.12");
    c.mthp_orders = {};
    build(c);
    ASSERT_EQ(mmap_anon(kBase, 2u << 20), 0);
    for (unsigned i = 0; i < 4; ++i) ASSERT_STREQ(fault(kBase + i * kPage, arch::Access::Store), "anon_folio_order0") << i;
    ASSERT_EQ(madvise(kBase, 4 * kPage, Advice::Free), 0);
    ASSERT_EQ(translate(kBase + 2 * kPage, arch::Access::Store).fault, arch::FaultKind::None);
    ASSERT_EQ(pageout(kBase, 4 * kPage), 0);
    EXPECT_EQ(pte(kBase), 0u);
    EXPECT_EQ(pte(kBase + kPage), 0u);
    EXPECT_TRUE(arch::desc_dirty(pte(kBase + 2 * kPage)));
    EXPECT_EQ(pte(kBase + 3 * kPage), 0u);
    EXPECT_EQ(stats().lazyfreed, 3u);
    EXPECT_EQ(stats().lazyfree_kept, 1u);
}

TEST_F(Swap, LazyfreePmdThpIsDiscardedWholeFrom611) {
    for (const char* version : {"6.12", "6.10"}) {
        KernelConfig c = swapping(version);
        c.thp = KernelConfig::Thp::Always;
        build(c);
        ASSERT_EQ(mmap_anon(kBase, 2u << 20), 0);
        ASSERT_STREQ(fault(kBase, arch::Access::Store), "anon_huge_pmd");
        ASSERT_EQ(madvise(kBase, 2u << 20, Advice::Free), 0);
        ASSERT_EQ(pageout(kBase, 2u << 20), 0);
        EXPECT_EQ(stats().lazyfreed, 512u) << version;
        EXPECT_EQ(stats().swap_pages_out, 0u) << version;
        // v6.11 on: __discard_anon_folio_pmd_locked clears the PMD; before, the PMD is split
        // (TTU_SPLIT_HUGE_PMD) and each entry discarded, leaving an empty PTE table.
        const bool whole = std::string(version) == "6.12";
        EXPECT_EQ(stats().huge_pmd_splits, whole ? 0u : 1u) << version;
        EXPECT_EQ(pte_pa(kBase) == 0, whole) << version;
        if (!whole) {
            EXPECT_EQ(pte(kBase), 0u);
        }
        EXPECT_STREQ(fault(kBase, arch::Access::Load), whole ? "anon_huge_zero_page" : "anon_zero_page") << version;
    }
}

}  // namespace
}  // namespace mmusim::kernel::testing
