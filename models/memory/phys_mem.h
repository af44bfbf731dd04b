// Simulated physical memory that holds page-table pages as real 64-bit descriptors.
// A TLM-2.0 target: 8-byte reads and writes, and atomic exchange / compare-and-swap
// through AtomicExt. Data pages are never stored: the simulator does not model data.
// With a cache model, accesses of table walkers (WalkerAccessExt) are timed by the level of
// CacheHierarchy that serves them; the kernel's accesses keep the flat latency, and its
// stores keep the walkers' cached copies coherent.
#pragma once

#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include <systemc>
#include <tlm>
#include <tlm_utils/multi_passthrough_target_socket.h>

#include "models/memory/cache_hierarchy.h"

namespace mmusim::memory {

class PhysMem : public sc_core::sc_module {
public:
    // Every walker and the kernel bind here.
    tlm_utils::multi_passthrough_target_socket<PhysMem> socket;

    // `read_latency` cycles are annotated on every access of the kernel, and on every walker
    // access when `caches` is not enabled.
    PhysMem(sc_core::sc_module_name name, std::uint64_t read_latency, const CacheHierarchyConfig& caches = {});

    // Direct access for set-up and inspection (not a simulated access: not timed).
    std::uint64_t peek(std::uint64_t pa) const;
    void poke(std::uint64_t pa, std::uint64_t value);
    // The cache model, or null when the platform has none.
    const CacheHierarchy* caches() const { return m_caches.get(); }

    // The store log, for the invariant checker: once enabled, the 4 KiB pages that anything
    // but a table walker stored to (the kernel, set-up, tests), and the addresses of the
    // valid descriptors those stores changed, since the last clear. A walker's hardware A/D update
    // is not logged: it only adds what the descriptor already allowed. Off by default (a
    // cold-path branch per store when off).
    struct StoreLog {
        std::vector<std::uint64_t> pages;          // page numbers (pa >> 12), in store order, repeats possible
        std::vector<std::uint64_t> valid_changed;  // descriptor addresses, repeats possible
    };
    void enable_store_log() { m_log_on = true; }
    const StoreLog& store_log() const { return m_log; }
    void clear_store_log() { m_log = StoreLog{}; }
    // The 512 words of the 4 KiB page holding `pa`, or null when nothing was ever stored
    // there (it reads as zeros). For inspection; not a simulated access.
    const std::uint64_t* page_words(std::uint64_t pa) const;

private:
    static constexpr unsigned kPageShift = 12;  // storage unit, independent of the granule
    static constexpr unsigned kWordsPerPage = 1u << (kPageShift - 3);
    struct Page { std::uint64_t words[kWordsPerPage] = {}; };

    void b_transport(int initiator, tlm::tlm_generic_payload& trans, sc_core::sc_time& delay);
    // Untimed bulk access: reads, and writes of zeros (the kernel clearing a new page-table
    // page; a kernel store for the cache model).
    unsigned transport_dbg(int initiator, tlm::tlm_generic_payload& trans);
    std::uint64_t* word(std::uint64_t pa, bool create);
    void log_store(std::uint64_t pa, std::uint64_t old, std::uint64_t value) {
        if (!m_log_on) return;
        if (m_log.pages.empty() || m_log.pages.back() != pa >> kPageShift) m_log.pages.push_back(pa >> kPageShift);
        if ((old & 1) != 0 && old != value) m_log.valid_changed.push_back(pa);
    }

    std::unordered_map<std::uint64_t, std::unique_ptr<Page>> m_pages;  // looked up, never iterated
    sc_core::sc_time m_latency;
    std::unique_ptr<CacheHierarchy> m_caches;
    sc_core::sc_time m_level_latency[kCacheLevelCount];  // by CacheLevel
    bool m_log_on = false;
    StoreLog m_log;
};

}  // namespace mmusim::memory
