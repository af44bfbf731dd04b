#include "models/kernel/kernel_mappings.h"

#include <vector>

#include "models/kernel/kernel_error.h"
#include "models/kernel/pte.h"

namespace mmusim::kernel {

using namespace arch::bits;

namespace {
// PAGE_KERNEL: valid, inner shareable, young, dirty and writable, never executable at EL0.
Desc page_kernel() { return pte_bits::kPageDefault | kValid | kDbm | kSwDirty | kPxn | kUxn; }
}  // namespace

KernelMappings::KernelMappings(KernelContext& k) : m_k(k) {
    m_init_mm.id = ~0u;
    m_init_mm.asid = 0;
    m_init_mm.user = false;
    m_init_mm.pgd_pa = m_k.tables.pgd_alloc();
}

void KernelMappings::apply_to_page_range(std::uint64_t addr, std::uint64_t size,
                                         const std::function<void(std::uint64_t, std::uint64_t)>& fn) {
    const std::uint64_t page = m_k.geo.page_size();
    const std::uint64_t end = addr + size;
    while (addr < end) {
        const std::uint64_t next = m_k.geo.pmd_addr_end(addr, end);
        const std::uint64_t table = m_k.tables.pte_alloc(m_k.tables.pmd_alloc(m_init_mm, addr));
        // apply_to_pte_range: one lazy section for the run of entries in this table.
        const LazyMmu::State state = m_k.lazy.enable();
        for (; addr < next; addr += page) fn(addr, m_k.tables.pte_offset(table, addr));
        m_k.lazy.disable(state);
    }
}

void KernelMappings::kernel_map_pages(std::uint64_t pfn, std::uint64_t pages, bool enable) {
    ++m_k.stats.debug_pagealloc_updates;
    const std::uint64_t va = linear_va(pfn);
    const std::uint64_t size = pages << m_k.geo.page_shift;
    std::uint64_t p = pfn;
    apply_to_page_range(va, size, [&](std::uint64_t addr, std::uint64_t ptep) {
        // set_memory_valid: make the linear-map entry valid or invalid.
        const Desc e = enable ? m_k.pgtable.pfn_pte(p, page_kernel()) : 0;
        m_k.pgtable.set_pte_at(m_init_mm, addr, ptep, e);
        ++p;
    });
    if (!enable) m_k.flush.flush_tlb_kernel_range(va, va + size);
}

void KernelMappings::vmalloc_cycle(std::uint64_t pages, bool in_interrupt) {
    const bool was = m_k.lazy.in_interrupt();
    m_k.lazy.set_in_interrupt(in_interrupt);
    const std::uint64_t size = pages << m_k.geo.page_shift;
    std::vector<Folio> backing;
    backing.reserve(pages);
    apply_to_page_range(kVmallocBase, size, [&](std::uint64_t addr, std::uint64_t ptep) {
        const std::optional<Folio> f = m_k.folios.alloc(0);
        if (!f) throw KernelError("out of memory: no page for a kernel mapping (raise platform.memory.size)");
        on_alloc(f->head_pfn, 1);
        backing.push_back(*f);
        m_k.pgtable.set_pte_at(m_init_mm, addr, ptep, m_k.pgtable.pfn_pte(f->head_pfn, page_kernel()));
    });
    // vunmap: clear the entries (no barrier for invalid stores), then one kernel flush.
    apply_to_page_range(kVmallocBase, size, [&](std::uint64_t addr, std::uint64_t ptep) {
        (void)m_k.pgtable.ptep_get_and_clear(m_init_mm, addr, ptep);
    });
    m_k.flush.flush_tlb_kernel_range(kVmallocBase, kVmallocBase + size);
    for (const Folio& f : backing) {
        on_free(f.head_pfn, 1);
        m_k.folios.free(f);
    }
    m_k.lazy.set_in_interrupt(was);
}

}  // namespace mmusim::kernel
