#include "models/kernel/folio_allocator.h"

#include <stdexcept>

namespace mmusim::kernel {

FolioAllocator::FolioAllocator(std::uint64_t pages, unsigned max_order)
    : m_max_order(max_order), m_free(max_order + 1) {
    // Carve the range into the largest naturally aligned blocks that fit.
    std::uint64_t pfn = 0;
    while (pfn < pages) {
        unsigned order = max_order;
        while (order > 0 && ((pfn & ((std::uint64_t{1} << order) - 1)) != 0 || pfn + (std::uint64_t{1} << order) > pages))
            --order;
        m_free[order].insert(pfn);
        pfn += std::uint64_t{1} << order;
    }
}

std::optional<Folio> FolioAllocator::alloc(unsigned order) {
    if (order > m_max_order) return std::nullopt;
    unsigned from = order;
    while (from <= m_max_order && m_free[from].empty()) ++from;
    if (from > m_max_order) return std::nullopt;
    const std::uint64_t head = *m_free[from].begin();
    m_free[from].erase(m_free[from].begin());
    // Split down, returning the upper halves.
    while (from > order) {
        --from;
        m_free[from].insert(head + (std::uint64_t{1} << from));
    }
    m_allocated.emplace(head, order);
    return Folio{head, order};
}

void FolioAllocator::free(const Folio& folio) {
    const auto it = m_allocated.find(folio.head_pfn);
    if (it == m_allocated.end() || it->second != folio.order)
        throw std::logic_error("freeing a block that is not allocated");
    m_allocated.erase(it);
    std::uint64_t head = folio.head_pfn;
    unsigned order = folio.order;
    while (order < m_max_order) {
        const std::uint64_t buddy = head ^ (std::uint64_t{1} << order);
        auto b = m_free[order].find(buddy);
        if (b == m_free[order].end()) break;
        m_free[order].erase(b);
        head &= ~(std::uint64_t{1} << order);
        ++order;
    }
    m_free[order].insert(head);
}

void FolioAllocator::split(const Folio& folio) {
    const auto it = m_allocated.find(folio.head_pfn);
    if (it == m_allocated.end() || it->second != folio.order)
        throw std::logic_error("splitting a block that is not allocated");
    for (std::uint64_t i = 0; i < folio.nr_pages(); ++i) m_allocated[folio.head_pfn + i] = 0;
}

std::optional<Folio> FolioAllocator::folio_of(std::uint64_t pfn) const {
    auto it = m_allocated.upper_bound(pfn);
    if (it == m_allocated.begin()) return std::nullopt;
    --it;
    if (pfn >= it->first + (std::uint64_t{1} << it->second)) return std::nullopt;
    return Folio{it->first, it->second};
}

}  // namespace mmusim::kernel
