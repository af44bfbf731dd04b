// The swap device (struct swap_info_struct, mm/swapfile.c and mm/swap_state.c): its slot
// counts (swap_map), the cluster allocator that hands out naturally aligned runs of slots for
// a folio of any order, and the swap cache of slots whose folio is still in memory.
//
// The device is one swap area of kernel.swap_size bytes. A `zram` device is
// SWP_SYNCHRONOUS_IO (do_swap_page may skip the swap cache and read a large folio); a `disk`
// device always swaps in through the swap cache, one base page at a time.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <vector>

namespace mmusim::kernel {

class SwapInfo {
public:
    // `slots` base pages in clusters of `cluster_slots` (SWAPFILE_CLUSTER: the pages of a PMD).
    SwapInfo(std::uint64_t slots, std::uint64_t cluster_slots);

    std::uint64_t slots() const { return m_slots; }
    bool enabled() const { return m_slots != 0; }

    // folio_alloc_swap (add_to_swap): 2^order free slots, aligned to their number, taken for
    // the swap cache (SWAP_HAS_CACHE); nullopt when no such run is free. From v6.10 ("mm:
    // swap: allow storage of all mTHP orders") each order allocates from clusters of its own
    // (a per-order current cluster, then the order's partly used clusters, then a free
    // cluster); order 0 may also take any free slot of another order's cluster.
    std::optional<std::uint64_t> alloc(unsigned order);
    // swap_duplicate: one more page-table reference to the slot.
    void dup(std::uint64_t offset) { ++m_count[offset]; }
    // __swap_count.
    std::uint32_t count(std::uint64_t offset) const {
        const auto it = m_count.find(offset);
        return it == m_count.end() ? 0 : it->second;
    }
    // SWAP_HAS_CACHE: a folio holds (or is about to hold) the slot in the swap cache.
    bool has_cache(std::uint64_t offset) const { return m_cache_flag.count(offset) != 0; }
    // Whether the slot is in use (referenced, or held by the swap cache).
    bool in_use(std::uint64_t offset) const { return count(offset) != 0 || m_cache_flag.count(offset) != 0; }

    // Drops one reference from each of the `nr` slots from `offset` (swap_free_nr,
    // free_swap_and_cache_nr). A slot with no reference left and no cached folio is free
    // again. The PFNs of cached folios whose slot lost its last reference are returned: the
    // caller drops them from the swap cache (folio_free_swap).
    std::vector<std::uint64_t> put(std::uint64_t offset, std::uint64_t nr);
    // The swap cache: the folio page that holds the slot's data, if any.
    std::optional<std::uint64_t> cache_lookup(std::uint64_t offset) const;
    void cache_add(std::uint64_t offset, std::uint64_t pfn);
    // Slots leave the swap cache (put_swap_folio after the folio was written, or
    // folio_free_swap); a slot with no reference left is free again.
    void cache_remove(std::uint64_t offset, std::uint64_t nr);

    std::uint64_t slots_used() const { return m_used; }

private:
    bool run_free(std::uint64_t offset, std::uint64_t nr) const;
    std::optional<std::uint64_t> alloc_in_cluster(std::uint64_t cluster, std::uint64_t nr);
    void take(std::uint64_t offset, std::uint64_t nr);
    void release(std::uint64_t offset);

    std::uint64_t m_cluster_slots;
    std::uint64_t m_slots = 0;
    // swap_map: page-table references of the slots that have any (sparse: a run that never
    // swaps pays nothing for a large device).
    std::map<std::uint64_t, std::uint32_t> m_count;
    std::set<std::uint64_t> m_cache_flag;   // SWAP_HAS_CACHE
    std::map<std::uint64_t, std::uint64_t> m_cache;  // slot -> PFN of the cached page
    struct Cluster {
        int order = -1;       // -1: free
        std::uint64_t used = 0;
    };
    std::vector<Cluster> m_clusters;
    std::set<std::uint64_t> m_free_clusters;               // lowest first
    std::map<unsigned, std::uint64_t> m_current;            // per order: the cluster it fills
    std::uint64_t m_used = 0;
};

}  // namespace mmusim::kernel
