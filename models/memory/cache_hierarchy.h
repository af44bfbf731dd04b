// The data caches that page-table reads of the table walkers go through: per core a private
// L1D and L2, one LLC shared by all cores, DRAM behind them. Tags only, deterministic LRU.
//
// It lives with PhysMem (not in the Mmu) because it must see every store to a page-table
// line, the kernel's included, to keep the cores' private copies coherent, and because the
// LLC is shared by all cores.
//
// Rules (README "Cycles"):
// - A walker access of core c (descriptor read, or hardware A/D compare-and-swap) is served by
//   the first level holding the line: c's L1D, c's L2, the LLC, else DRAM. It costs that
//   level's latency (each figure is the whole load-to-use time of a hit there, not a sum).
//   The line is then filled into every level above the one that served it (a miss in all
//   fills the LLC, c's L2 and c's L1D). Levels are non-inclusive: an eviction from one level
//   leaves the others alone.
// - A compare-and-swap by core c's walker also removes the line from the private levels of
//   every other core (the writer takes the line unique).
// - A store by the kernel (write, exchange, compare-and-swap, bulk clear) removes the line
//   from every core's private levels and leaves it in the LLC, as if written back there: the
//   kernel's own cache traffic is not modelled (its page-table accesses cost the flat
//   memory.latency), so the next walk of any core misses its private levels and hits the LLC.
//   Kernel reads do not change the caches.
#pragma once

#include <cstdint>
#include <vector>

#include "models/memory/line_cache.h"

namespace mmusim::memory {

// Where a walker access was served. None: the access was not timed by the caches (no cache
// model, or not a walker access).
enum class CacheLevel : std::uint8_t { None, L1d, L2, Llc, Dram };
inline constexpr unsigned kCacheLevelCount = 5;

struct CacheHierarchyConfig {
    bool enabled = false;          // false: every access costs PhysMem's flat latency
    unsigned cores = 1;
    std::uint32_t line = 64;       // bytes per line, a power of two
    LineCacheConfig l1d, l2, llc;  // l1d and l2 per core, llc shared
    std::uint32_t dram_latency = 0;
};

class CacheHierarchy {
public:
    explicit CacheHierarchy(const CacheHierarchyConfig& config);

    // One access of core `core`'s table walker to the 8-byte word at `pa`; `write` for a
    // compare-and-swap. Returns the level that served it.
    CacheLevel walker_access(unsigned core, std::uint64_t pa, bool write);
    // A kernel store to the bytes [pa, pa + bytes).
    void kernel_store(std::uint64_t pa, std::uint64_t bytes);

    // Cycles of an access served at `level` (0 for None).
    std::uint32_t latency(CacheLevel level) const;

    const CacheHierarchyConfig& config() const { return m_config; }
    // For tests and inspection.
    const LineCache& l1d(unsigned core) const { return m_l1d[core]; }
    const LineCache& l2(unsigned core) const { return m_l2[core]; }
    const LineCache& llc() const { return m_llc; }
    std::uint64_t line_of(std::uint64_t pa) const { return pa >> m_line_shift; }

private:
    void drop_private(std::uint64_t line, unsigned except_core);

    CacheHierarchyConfig m_config;
    unsigned m_line_shift = 0;
    std::vector<LineCache> m_l1d, m_l2;  // one per core
    LineCache m_llc;
};

}  // namespace mmusim::memory
