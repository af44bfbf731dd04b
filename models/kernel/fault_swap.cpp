// A fault on a swap entry: mm/memory.c do_swap_page.
//
// The folio comes from the swap cache when a folio still holds the slot; else, on a
// SWP_SYNCHRONOUS_IO device (zram) with a slot only this entry references, do_swap_page skips
// the swap cache and reads a folio of its own: order 0 before v6.13, and from v6.13 ("mm:
// support large folios swap-in for sync io devices", 242d12c98174) the largest enabled mTHP
// order whose aligned range is all swap entries with consecutive slots and the same flags
// (alloc_swap_folio, can_swapin_thp, thp_swap_suitable_orders), mapped whole with
// set_ptes(nr). Otherwise (a shared slot, or a disk) swapin_readahead reads an order-0 folio
// into the swap cache; its readahead of neighbouring slots fills only the swap cache and is
// not modelled.
#include "models/common/cycles.h"
#include "models/kernel/fault.h"
#include "models/kernel/kernel_error.h"
#include "models/kernel/pte.h"

namespace mmusim::kernel {

const char* FaultHandler::do_swap_page(VmFault& vmf) {
    Mm& mm = *vmf.mm;
    Vma& vma = *vmf.vma;
    const Desc orig = vmf.orig_pte;
    const std::uint64_t offset = swp_offset(orig);
    if (offset >= m_k.swap.slots() || !m_k.swap.in_use(offset))
        throw KernelError("fault on the swap entry " + hex(orig) + " at VA " + hex(vmf.address) +
                          ", whose slot is not in use (a model error)");
    const std::uint64_t page = m_k.geo.page_size();
    const char* path = nullptr;
    bool read = true;  // the data comes from the device (not a swap cache hit)
    Folio folio;
    bool in_swapcache = true;
    std::uint64_t address = vmf.address;
    std::uint64_t ptep = vmf.pte;
    std::uint64_t page_idx = 0;
    if (const std::optional<std::uint64_t> cached = m_k.swap.cache_lookup(offset)) {
        folio = *m_k.folios.folio_of(*cached);  // swap_cache_get_folio
        path = "swap_cache";
        read = false;
    } else if (m_k.config.swap_synchronous && m_k.swap.count(offset) == 1) {
        // Skip the swap cache: a folio only this fault sees.
        folio = alloc_swap_folio(vmf);
        in_swapcache = false;
        if (folio.order > 0) {
            const std::uint64_t nr = folio.nr_pages();
            const std::uint64_t folio_start = vmf.address & ~(nr * page - 1);
            const std::uint64_t idx = (vmf.address - folio_start) / page;
            const std::uint64_t folio_ptep = vmf.pte - 8 * idx;
            const Desc folio_pte = m_k.pgtable.ptep_get(folio_ptep);
            // The range may have changed since alloc_swap_folio looked (out_nomap).
            if (folio_pte != pte_move_swp_offset(orig, -static_cast<std::int64_t>(idx)) ||
                m_ops.swap_pte_batch(folio_ptep, static_cast<unsigned>(nr), folio_pte) != nr) {
                m_pages.free(folio);
                return "raced";
            }
            page_idx = idx;
            address = folio_start;
            ptep = folio_ptep;
        }
        path = folio.order > 0 ? "swap_in_large" : "swap_in";
    } else {
        folio = m_pages.alloc(0, false, true);
        Rmap::Info& info = m_k.rmap.info(folio.head_pfn);
        info.anon = true;
        info.swapcache = true;
        info.swap_offset = offset;
        m_k.swap.cache_add(offset, folio.head_pfn);
        path = "swap_in_cache";
    }
    const std::uint64_t nr_pages = folio.nr_pages();
    if (read) {
        // swap_read_folio.
        m_k.delay += cycles_to_time(m_k.config.costs.swap_in_per_4k * ((nr_pages << m_k.geo.page_shift) >> 12));
        m_k.stats.swap_pages_in += nr_pages;
        ++m_k.stats.swap_in_by_size[page << folio.order];
    }
    // Under the PTE lock: the entry must still be the one that faulted.
    if (!pte_same(m_k.pgtable.ptep_get(vmf.pte), orig)) {
        if (!in_swapcache) m_pages.free(folio);
        return "raced";
    }
    const std::uint64_t first_offset = offset - page_idx;
    Rmap::Info& info = m_k.rmap.info(folio.head_pfn);
    info.anon = true;
    const bool others_map = info.total() != 0;
    m_k.rmap.add(folio.head_pfn, mm.id, nr_pages);
    // swap_free_nr; should_try_to_free_swap lets a write fault that is the folio's only user
    // take it out of the swap cache (a slot nobody references leaves it in the model anyway).
    m_ops.free_swap_and_cache_nr(swp_entry_to_pte(first_offset), static_cast<unsigned>(nr_pages));
    if (in_swapcache && vmf.write && !others_map) m_ops.folio_free_swap(folio.head_pfn);
    // A fresh folio never exposed to the swap cache is certainly exclusive; else the swap
    // entry says, or the folio is the fault's alone (folio_ref_count == 1: out of the swap
    // cache and mapped nowhere else).
    const bool exclusive = !in_swapcache || pte_swp_exclusive(orig) ||
                           (!m_k.rmap.info(folio.head_pfn).swapcache && !others_map);
    Desc pte = arch::desc_with_pfn(vma.page_prot, folio.head_pfn, m_k.geo.page_shift);
    if (pte_swp_uffd_wp(orig)) pte = pte_mkuffd_wp(pte);
    bool write_done = false;
    if (exclusive) {
        if (vma.flags.write && !pte_uffd_wp(pte)) {
            pte = arch::desc_mkwrite(pte);
            if (vmf.write) {
                pte = arch::desc_mkdirty(pte);
                write_done = true;
            }
        }
        m_k.rmap.set_anon_exclusive(folio.head_pfn, nr_pages);  // RMAP_EXCLUSIVE
    } else {
        m_k.rmap.clear_anon_exclusive(folio.head_pfn, nr_pages);
    }
    m_k.pgtable.set_ptes(mm, address, ptep, pte, static_cast<unsigned>(nr_pages));
    if (vmf.write && !write_done) {
        // The write still needs a writable entry: do_wp_page on the entry just mapped.
        vmf.orig_pte = m_k.pgtable.pfn_pte(folio.head_pfn + page_idx, pte);
        return do_wp_page(vmf);
    }
    return path;
}

Folio FaultHandler::alloc_swap_folio(VmFault& vmf) {
    const Vma& vma = *vmf.vma;
    if (!m_k.config.version.at_least(6, 13) || vma.uffd_armed()) return m_pages.alloc(0, false, true);
    const std::uint64_t page = m_k.geo.page_size();
    const std::uint64_t offset = swp_offset(vmf.orig_pte);
    // thp_vma_allowable_orders below PMD order, thp_vma_suitable_orders (the aligned range
    // inside the VMA), then thp_swap_suitable_orders: from the highest order down, the first
    // whose VA and slot are aligned alike keeps itself and every order below it.
    std::uint64_t orders = m_ops.thp_vma_allowable_orders(vma);
    for (unsigned order = 1; order < m_k.geo.pmd_order(); ++order) {
        const std::uint64_t size = page << order;
        const std::uint64_t start = vmf.address & ~(size - 1);
        if (start < vma.start || start + size > vma.end) orders &= ~(std::uint64_t{1} << order);
    }
    for (unsigned order = m_k.geo.pmd_order(); order-- > 1;) {
        if ((orders >> order & 1) == 0) continue;
        const std::uint64_t nr = std::uint64_t{1} << order;
        if ((vmf.address / page) % nr == offset % nr) break;
        orders &= ~(std::uint64_t{1} << order);
    }
    // The highest order whose aligned range is all swap entries with consecutive slots and
    // the same flags, none of them in the swap cache (can_swapin_thp).
    const std::uint64_t table_pte0 = vmf.pte - 8 * ((vmf.address / page) & (m_k.geo.ptrs_per_table() - 1));
    for (unsigned order = m_k.geo.pmd_order(); order-- > 1;) {
        if ((orders >> order & 1) == 0) continue;
        const std::uint64_t nr = std::uint64_t{1} << order;
        const std::uint64_t addr = vmf.address & ~(nr * page - 1);
        const std::uint64_t idx = (vmf.address - addr) / page;
        const std::uint64_t ptep = table_pte0 + 8 * ((addr / page) & (m_k.geo.ptrs_per_table() - 1));
        const Desc pte = m_k.pgtable.ptep_get(ptep);
        bool ok = pte == pte_move_swp_offset(vmf.orig_pte, -static_cast<std::int64_t>(idx)) &&
                  m_ops.swap_pte_batch(ptep, static_cast<unsigned>(nr), pte) == nr;
        for (std::uint64_t i = 0; ok && i < nr; ++i)
            if (m_k.swap.has_cache(swp_offset(pte) + i)) ok = false;  // non_swapcache_batch
        if (ok) break;
        orders &= ~(std::uint64_t{1} << order);
    }
    // Allocate the highest remaining order, falling back order by order.
    for (unsigned order = m_k.geo.pmd_order(); order-- > 1;)
        if ((orders >> order & 1) != 0)
            if (const std::optional<Folio> f = m_pages.try_alloc_fallible(order, false, true)) return *f;
    return m_pages.alloc(0, false, true);
}

}  // namespace mmusim::kernel
