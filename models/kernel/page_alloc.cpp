#include "models/kernel/page_alloc.h"

#include <cmath>

#include "models/arch/sizes.h"
#include "models/common/cycles.h"
#include "models/common/rng.h"
#include "models/kernel/kernel_error.h"

namespace mmusim::kernel {

std::optional<Folio> PageAlloc::try_alloc(unsigned order, bool zero, bool anon) {
    const std::optional<Folio> folio = m_k.folios.alloc(order);
    if (!folio) return std::nullopt;
    const std::uint64_t bytes = folio->nr_pages() << m_k.geo.page_shift;
    m_k.delay += cycles_to_time(m_k.config.costs.folio_alloc + (zero ? m_k.config.costs.zero_per_4k * (bytes >> 12) : 0));
    ++m_k.stats.folios_by_size[bytes];
    if (m_k.fault_class != VmaClass::Count) ++m_k.stats.by_vma[static_cast<std::size_t>(m_k.fault_class)].folios_by_size[bytes];
    Rmap::Info& info = m_k.rmap.info(folio->head_pfn);
    info = Rmap::Info{};
    info.anon = anon;
    // Every anonymous folio the model allocates is mapped at once by its caller, exclusive
    // to the faulting process (folio_add_new_anon_rmap with RMAP_EXCLUSIVE).
    if (anon) m_k.rmap.set_anon_exclusive(folio->head_pfn, folio->nr_pages());
    m_kmap.on_alloc(folio->head_pfn, folio->nr_pages());
    return folio;
}

std::optional<Folio> PageAlloc::try_alloc_fallible(unsigned order, bool zero, bool anon) {
    const double f = m_k.config.fragmentation;
    if (order > 0 && f > 0.0) {
        // splitmix64 of (seed, draw number): the same config fails the same requests.
        const double u =
            unit_interval(splitmix64_mix(m_k.config.seed * 0x9e3779b97f4a7c15ULL + (++m_draws) * 0xbf58476d1ce4e5b9ULL));
        const double fail = 1.0 - std::pow(1.0 - f, static_cast<double>(order));
        if (u < fail) {
            ++m_k.stats.alloc_fallbacks_by_size[m_k.geo.page_size() << order];
            return std::nullopt;
        }
    }
    return try_alloc(order, zero, anon);
}

Folio PageAlloc::alloc(unsigned order, bool zero, bool anon) {
    const std::optional<Folio> folio = try_alloc(order, zero, anon);
    if (!folio)
        throw KernelError("out of memory: no free block of " + arch::size_name(m_k.geo.page_size() << order) +
                          " (raise platform.memory.size)");
    return *folio;
}

void PageAlloc::free(const Folio& folio) {
    m_kmap.on_free(folio.head_pfn, folio.nr_pages());
    m_k.rmap.forget(folio.head_pfn, folio.nr_pages());
    m_k.folios.free(folio);
}

void PageAlloc::unmap(std::uint64_t pfn, unsigned mm, std::uint64_t nr) {
    folio_remove_rmap_ptes(pfn, mm, nr);
    free_pages_and_swap_cache(pfn);
}

void PageAlloc::folio_remove_rmap_ptes(std::uint64_t pfn, unsigned mm, std::uint64_t nr) {
    const std::optional<Folio> folio = m_k.folios.folio_of(pfn);
    if (!folio || m_k.rmap.find(folio->head_pfn) == nullptr) return;
    m_k.rmap.note_unmap(folio->head_pfn, folio->order, m_k.rmap.remove(folio->head_pfn, mm, nr));
}

void PageAlloc::free_pages_and_swap_cache(std::uint64_t pfn) {
    // The model keeps no reference counts: a folio's references are its mappings, the page
    // cache and the swap cache, so the last put is the one that finds none of them.
    const std::optional<Folio> folio = m_k.folios.folio_of(pfn);
    if (!folio) return;
    const Rmap::Info* info = m_k.rmap.find(folio->head_pfn);
    if (info == nullptr) return;
    if (info->total() == 0 && info->anon && !info->pagecache && !info->swapcache) free(*folio);
}

std::optional<std::uint64_t> PageAlloc::get_free_page() {
    const std::optional<Folio> page = m_k.folios.alloc(0);
    if (!page) return std::nullopt;
    m_k.delay += cycles_to_time(m_k.config.costs.folio_alloc);
    m_kmap.on_alloc(page->head_pfn, 1);
    return page->head_pfn;
}

void PageAlloc::free_page(std::uint64_t pfn) {
    m_kmap.on_free(pfn, 1);
    m_k.folios.free(Folio{pfn, 0});
}

}  // namespace mmusim::kernel
