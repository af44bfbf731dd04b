// The TLB rules of spec/mmu.md §2: geometry, lookup order, fill size, LRU, ASIDs,
// invalidation forms; and the hash index against a brute-force reference under churn.
#include <gtest/gtest.h>

#include <map>
#include <vector>

#include "models/mmu/tlb.h"
#include "models/common/rng.h"

namespace mmusim::mmu {
namespace {

constexpr std::uint64_t K4 = 4096, K64 = 64 * 1024, M2 = 2 << 20, M32 = 32 << 20, G1 = 1ull << 30;

TlbConfig config(std::uint32_t entries, std::uint32_t ways, std::vector<std::uint64_t> sizes) {
    return TlbConfig{"t", entries, ways, std::move(sizes), 1};
}

// Fills a translation of `size` bytes for region base `va` (identity-mapped plus an offset).
bool fill(Tlb& t, std::uint64_t va, std::uint64_t size, std::uint16_t asid = 1, bool global = false) {
    const std::uint64_t region = va & ~(size - 1);
    return t.fill(va, asid, global, size, region, region + 0x100000000ull, 0, 0, 3);
}

TEST(TlbTest, SetsAreEntriesDividedByWays) {
    Tlb t(config(1280, 5, {K4}));
    EXPECT_EQ(t.sets(), 256u);
    Tlb fa(config(48, 48, {K4}));
    EXPECT_EQ(fa.sets(), 1u);
}

TEST(TlbTest, EntryGoesToSetOfVaShiftedBySize) {
    Tlb t(config(16, 2, {K4, K64}));  // 8 sets
    ASSERT_TRUE(fill(t, 0x5000, K4));            // (0x5000 >> 12) % 8 = 5
    ASSERT_TRUE(fill(t, 0x30000, K64));          // (0x30000 >> 16) % 8 = 3
    EXPECT_TRUE(t.set_entries(5)[0].valid());
    EXPECT_EQ(t.set_entries(5)[0].size(), K4);
    EXPECT_TRUE(t.set_entries(3)[0].valid());
    EXPECT_EQ(t.set_entries(3)[0].size(), K64);
    EXPECT_EQ(t.valid_entries(), 2u);
}

TEST(TlbTest, LookupHitsWithinTheRegionAndMissesOutside) {
    Tlb t(config(48, 48, {K4, K64}));
    ASSERT_TRUE(fill(t, 0x10000, K64));
    EXPECT_NE(t.lookup(0x10000, 1).entry, nullptr);
    EXPECT_NE(t.lookup(0x1ffff, 1).entry, nullptr);
    EXPECT_EQ(t.lookup(0x20000, 1).entry, nullptr);
    EXPECT_EQ(t.lookup(0xffff, 1).entry, nullptr);
    const TlbLookup hit = t.lookup(0x12345, 1);
    EXPECT_EQ(hit.entry->pa + (0x12345 - hit.entry->region()), 0x12345 + 0x100000000ull);
}

TEST(TlbTest, FillUsesLargestLevelSizeNotAboveSource) {
    Tlb t(config(48, 48, {K4, K64, M2}));
    // A 32M source (contiguous PMD) is held as the 2M region containing the VA.
    ASSERT_TRUE(t.fill(0x2345678, 1, false, M32, 0x2000000, 0x80000000, 0, 0, 2));
    const TlbLookup hit = t.lookup(0x2345678, 1);
    ASSERT_NE(hit.entry, nullptr);
    EXPECT_EQ(hit.entry->size(), M2);
    EXPECT_EQ(hit.entry->region(), 0x2200000u);
    EXPECT_EQ(hit.entry->pa, 0x80000000u + 0x200000u);
    // A 64K source in a level without 64K becomes the 4K page that was used.
    Tlb small(config(48, 48, {K4, M2}));
    ASSERT_TRUE(small.fill(0x13000, 1, false, K64, 0x10000, 0x90000, 0, 0, 3));
    EXPECT_EQ(small.lookup(0x13000, 1).entry->size(), K4);
    EXPECT_EQ(small.lookup(0x12000, 1).entry, nullptr);
    // No size small enough: nothing is inserted.
    Tlb big(config(48, 48, {M2}));
    EXPECT_FALSE(big.fill(0x13000, 1, false, K64, 0x10000, 0x90000, 0, 0, 3));
    EXPECT_EQ(big.valid_entries(), 0u);
}

TEST(TlbTest, FirstListedSizeWinsAndBothCountAsAConflict) {
    Tlb t(config(48, 48, {K64, K4}));
    ASSERT_TRUE(fill(t, 0x10000, K4));
    ASSERT_TRUE(fill(t, 0x10000, K64));
    TlbLookup hit = t.lookup(0x10000, 1);
    EXPECT_EQ(hit.matches, 2u);
    EXPECT_EQ(hit.entry->size(), K64);  // listed first
    hit = t.lookup(0x10000, 1, /*prefer_smallest=*/true);
    EXPECT_EQ(hit.entry->size(), K4);
    EXPECT_EQ(t.lookup(0x11000, 1).matches, 1u);
}

TEST(TlbTest, LeastRecentlyUsedIsEvictedAndAHitRefreshes) {
    Tlb t(config(4, 4, {K4}));
    for (std::uint64_t p = 0; p < 4; ++p) ASSERT_TRUE(fill(t, p * K4, K4));
    EXPECT_NE(t.lookup(0, 1).entry, nullptr);  // page 0 becomes most recent
    ASSERT_TRUE(fill(t, 4 * K4, K4));          // evicts page 1, the least recent
    EXPECT_NE(t.lookup(0, 1).entry, nullptr);
    EXPECT_EQ(t.lookup(1 * K4, 1).entry, nullptr);
    EXPECT_NE(t.lookup(2 * K4, 1).entry, nullptr);
    EXPECT_NE(t.lookup(4 * K4, 1).entry, nullptr);
    EXPECT_EQ(t.valid_entries(), 4u);
}

TEST(TlbTest, EvictionStaysWithinTheSet) {
    Tlb t(config(4, 2, {K4}));  // 2 sets of 2 ways
    ASSERT_TRUE(fill(t, 0 * K4, K4));  // set 0
    ASSERT_TRUE(fill(t, 2 * K4, K4));  // set 0
    ASSERT_TRUE(fill(t, 1 * K4, K4));  // set 1
    ASSERT_TRUE(fill(t, 4 * K4, K4));  // set 0: evicts page 0
    EXPECT_EQ(t.lookup(0, 1).entry, nullptr);
    EXPECT_NE(t.lookup(1 * K4, 1).entry, nullptr);
    EXPECT_NE(t.lookup(2 * K4, 1).entry, nullptr);
}

TEST(TlbTest, AsidTaggingAndGlobalEntries) {
    Tlb t(config(48, 48, {K4}));
    ASSERT_TRUE(fill(t, 0x1000, K4, 1));
    EXPECT_NE(t.lookup(0x1000, 1).entry, nullptr);
    EXPECT_EQ(t.lookup(0x1000, 2).entry, nullptr);
    ASSERT_TRUE(fill(t, 0x5000, K4, 7, /*global=*/true));
    EXPECT_NE(t.lookup(0x5000, 1).entry, nullptr);
    EXPECT_NE(t.lookup(0x5000, 2).entry, nullptr);
}

TEST(TlbTest, InvalidateByVaRemovesEveryCoveringEntryOfTheAsid) {
    Tlb t(config(48, 48, {K4, K64, M2}));
    ASSERT_TRUE(fill(t, 0x201000, K4, 1));
    ASSERT_TRUE(fill(t, 0x200000, K64, 1));
    ASSERT_TRUE(fill(t, 0x200000, M2, 2));
    ASSERT_TRUE(fill(t, 0x200000, M2, 3, true));
    ASSERT_TRUE(fill(t, 0x202000, K4, 1));
    t.invalidate_va(0x201abc, 1);
    EXPECT_EQ(t.lookup(0x201000, 1).entry, nullptr);  // 4K and 64K of ASID 1 and the global 2M gone
    EXPECT_NE(t.lookup(0x201000, 2).entry, nullptr);  // ASID 2's 2M stays
    const TlbLookup rest = t.lookup(0x202000, 1);     // the 64K covering it went too: only
    EXPECT_EQ(rest.matches, 1u);                      // the 4K at 0x202000 (not covering
    EXPECT_EQ(rest.entry->size(), K4);                // the VA) is still held
    EXPECT_EQ(t.valid_entries(), 2u);
    t.invalidate_va(0x201abc, 2, /*asid_match=*/false);  // VAA form: any ASID
    EXPECT_EQ(t.valid_entries(), 1u);
}

TEST(TlbTest, InvalidateRangeRemovesOverlappingEntries) {
    Tlb t(config(64, 64, {K4, K64, M2}));
    ASSERT_TRUE(fill(t, 0x10000, K64));
    ASSERT_TRUE(fill(t, 0x21000, K4));
    ASSERT_TRUE(fill(t, 0x30000, K4));
    ASSERT_TRUE(fill(t, 0x400000, M2));
    t.invalidate_range(0x1f000, 0x22000, 1);  // overlaps the 64K block's end and the 4K at 0x21000
    EXPECT_EQ(t.lookup(0x10000, 1).entry, nullptr);
    EXPECT_EQ(t.lookup(0x21000, 1).entry, nullptr);
    EXPECT_NE(t.lookup(0x30000, 1).entry, nullptr);
    // A range far larger than the TLB takes the whole-scan path; same rule.
    t.invalidate_range(0x500000, 0x100000000ull, 1);
    EXPECT_EQ(t.lookup(0x400000, 1).entry, nullptr);
    EXPECT_NE(t.lookup(0x30000, 1).entry, nullptr);
}

TEST(TlbTest, FracturedEntryGoesWithItsSourceTranslation) {
    // A 16K page (16K granule) in a level that holds only 4K: the entry is the 4K piece that
    // was used, and a TLBI of the page's base VA must remove it.
    Tlb t(config(48, 48, {K4}));
    ASSERT_TRUE(t.fill(0x123abc, 1, false, 16384, 0x120000, 0x880000, 0, 0, 3));
    const TlbLookup hit = t.lookup(0x123000, 1);
    ASSERT_NE(hit.entry, nullptr);
    EXPECT_EQ(hit.entry->region(), 0x123000u);
    EXPECT_EQ(hit.entry->pa, 0x883000u);
    EXPECT_EQ(hit.entry->source_region(), 0x120000u);
    t.invalidate_va(0x120000, 1);
    EXPECT_EQ(t.valid_entries(), 0u);
    ASSERT_TRUE(t.fill(0x123abc, 1, false, 16384, 0x120000, 0x880000, 0, 0, 3));
    t.invalidate_range(0x121000, 0x122000, 1);
    EXPECT_EQ(t.valid_entries(), 0u);
    ASSERT_TRUE(t.fill(0x123abc, 1, false, 16384, 0x120000, 0x880000, 0, 0, 3));
    t.invalidate_va(0x124000, 1);  // the next page: not this translation
    EXPECT_EQ(t.valid_entries(), 1u);
}

TEST(TlbTest, InvalidateAsidKeepsGlobalAndOtherAsids) {
    Tlb t(config(48, 48, {K4}));
    ASSERT_TRUE(fill(t, 0x1000, K4, 1));
    ASSERT_TRUE(fill(t, 0x2000, K4, 2));
    ASSERT_TRUE(fill(t, 0x3000, K4, 1, true));
    t.invalidate_asid(1);
    EXPECT_EQ(t.lookup(0x1000, 1).entry, nullptr);
    EXPECT_NE(t.lookup(0x2000, 2).entry, nullptr);
    EXPECT_NE(t.lookup(0x3000, 1).entry, nullptr);
    t.invalidate_all();
    EXPECT_EQ(t.valid_entries(), 0u);
}

// Brute-force reference: a map of sets to ordered ways, following §2 literally.
struct RefEntry {
    std::uint64_t region, size;
    std::uint16_t asid;
    std::uint64_t lru;
};

TEST(TlbTest, MatchesABruteForceReferenceUnderChurn) {
    const std::vector<std::uint64_t> sizes = {K4, K64, M2};
    Tlb t(config(64, 4, sizes));
    std::vector<std::vector<RefEntry>> ref(16);
    std::uint64_t clock = 0;
    Xoshiro256ss rng(42);
    // Lookup per §2.1 on the reference: first size in order with a covering entry wins and
    // becomes most recent.
    const auto ref_lookup = [&](std::uint64_t va, std::uint16_t asid) -> const RefEntry* {
        for (std::uint64_t size : sizes)
            for (RefEntry& e : ref[(va / size) % 16])
                if (e.size == size && e.asid == asid && va >= e.region && va < e.region + size) {
                    e.lru = ++clock;
                    return &e;
                }
        return nullptr;
    };
    for (int step = 0; step < 200000; ++step) {
        const std::uint64_t va = (rng.next() % (64ull << 20)) & ~0xfffull;
        const std::uint16_t asid = static_cast<std::uint16_t>(1 + rng.next() % 2);
        const unsigned op = static_cast<unsigned>(rng.next() % 10);
        if (op < 9) {  // lookup; on a miss (two times in three) fill a random size
            const TlbLookup got = t.lookup(va, asid);
            const RefEntry* want = ref_lookup(va, asid);
            ASSERT_EQ(got.entry != nullptr, want != nullptr) << "step " << step;
            if (want != nullptr) {
                ASSERT_EQ(got.entry->region(), want->region) << "step " << step;
                ASSERT_EQ(got.entry->size(), want->size) << "step " << step;
                continue;
            }
            if (op < 3) continue;
            const std::uint64_t size = sizes[rng.next() % 3];
            ASSERT_TRUE(fill(t, va, size, asid));
            auto& set = ref[(va / size) % 16];
            if (set.size() == 4) {
                auto victim = set.begin();
                for (auto it = set.begin(); it != set.end(); ++it)
                    if (it->lru < victim->lru) victim = it;
                set.erase(victim);
            }
            set.push_back(RefEntry{va & ~(size - 1), size, asid, ++clock});
        } else {  // invalidate by VA
            t.invalidate_va(va, asid);
            for (auto& set : ref)
                std::erase_if(set, [&](const RefEntry& e) { return e.asid == asid && va >= e.region && va < e.region + e.size; });
        }
        std::size_t n = 0;
        for (auto& set : ref) n += set.size();
        ASSERT_EQ(t.valid_entries(), n) << "step " << step;
    }
}

}  // namespace
}  // namespace mmusim::mmu
