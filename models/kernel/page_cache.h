// A simulated page cache: per file, its folios by file page index, created on first use at
// the file's folio size (naturally aligned in the file, as the page cache keeps them).
#pragma once

#include <cstdint>
#include <map>

#include "models/kernel/folio_allocator.h"

namespace mmusim::kernel {

class PageCache {
public:
    // The folio holding file page `index` of `file`, if cached.
    const Folio* find(unsigned file, std::uint64_t index) const {
        const auto f = m_files.find(file);
        if (f == m_files.end()) return nullptr;
        auto it = f->second.upper_bound(index);
        if (it == f->second.begin()) return nullptr;
        --it;
        return index < it->first + it->second.nr_pages() ? &it->second : nullptr;
    }
    // No folio of `file` holds any of the `count` pages from `first`.
    bool range_empty(unsigned file, std::uint64_t first, std::uint64_t count) const {
        const auto f = m_files.find(file);
        if (f == m_files.end()) return true;
        auto it = f->second.lower_bound(first);
        if (it != f->second.end() && it->first < first + count) return false;
        return find(file, first) == nullptr;
    }
    void insert(unsigned file, std::uint64_t first_index, const Folio& folio) { m_files[file][first_index] = folio; }
    // The folio size the file uses (log2 pages); set by its first mapping.
    unsigned& folio_order(unsigned file) { return m_order[file]; }
    bool has_order(unsigned file) const { return m_order.count(file) != 0; }

private:
    std::map<unsigned, std::map<std::uint64_t, Folio>> m_files;
    std::map<unsigned, unsigned> m_order;
};

}  // namespace mmusim::kernel
