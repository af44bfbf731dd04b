// Kernel page tables (init_mm): the linear map at page granularity, which
// CONFIG_DEBUG_PAGEALLOC changes on every page allocation and free, and a vmalloc area
// updated with apply_to_page_range. Kernel entries are valid, not user-accessible and
// never executable at EL0, so each store asks for DSB.ISHST + ISB, batched by lazy MMU
// (spec/kernel.md §4). init_mm is not a user mm: the contpte engine leaves it alone (§5.1).
#pragma once

#include <cstdint>
#include <functional>

#include "models/kernel/kernel_context.h"
#include "models/kernel/mm.h"

namespace mmusim::kernel {

class KernelMappings {
public:
    explicit KernelMappings(KernelContext& k);

    Mm& init_mm() { return m_init_mm; }

    // apply_to_page_range(&init_mm, addr, size, fn): one lazy section per PTE table, `fn`
    // called with the VA and the PTE's physical address of each page.
    void apply_to_page_range(std::uint64_t addr, std::uint64_t size,
                             const std::function<void(std::uint64_t va, std::uint64_t ptep)>& fn);

    // __kernel_map_pages (DEBUG_PAGEALLOC): map or unmap `pages` pages at `pfn` in the linear
    // map; unmapping flushes the kernel TLB range.
    void kernel_map_pages(std::uint64_t pfn, std::uint64_t pages, bool enable);

    // A vmalloc + vfree cycle of `pages` pages: each page is allocated inside the PTE
    // callback (as KASAN's shadow population does), so with DEBUG_PAGEALLOC the allocation's
    // linear-map update opens a nested lazy section (§4.4); then the area is unmapped and
    // flushed, and the pages freed.
    void vmalloc_cycle(std::uint64_t pages, bool in_interrupt);

    std::uint64_t linear_va(std::uint64_t pfn) const { return kLinearBase + (pfn << m_k.geo.page_shift); }

    // Hooks of the page allocator.
    void on_alloc(std::uint64_t pfn, std::uint64_t pages) {
        if (m_k.config.debug_pagealloc) kernel_map_pages(pfn, pages, true);
    }
    void on_free(std::uint64_t pfn, std::uint64_t pages) {
        if (m_k.config.debug_pagealloc) kernel_map_pages(pfn, pages, false);
    }

    static constexpr std::uint64_t kLinearBase = 0xffff000000000000ull;
    static constexpr std::uint64_t kVmallocBase = 0xffff800080000000ull;

private:
    KernelContext& m_k;
    Mm m_init_mm;
};

}  // namespace mmusim::kernel
