// Who maps each folio (the rmap and mapcount side of struct folio): per folio, how many PTEs
// of each address space map it, whether it is anonymous, and whether the page cache holds a
// reference; and per page the PageAnonExclusive flag. The copy-on-write and reuse decisions
// of §6.4, mprotect's write upgrade and freeing on unmap read it.
#pragma once

#include <cstdint>
#include <map>
#include <set>

namespace mmusim::kernel {

class Rmap {
public:
    struct Info {
        bool anon = false;
        bool pagecache = false;                  // held by the page cache (file folios)
        bool swapcache = false;                  // held by the swap cache (PG_swapcache)
        std::uint64_t swap_offset = 0;           // its first slot, when in the swap cache
        bool dirty = false;                      // PG_dirty (not the PTE dirty bits)
        // !PG_swapbacked of an anonymous folio: MADV_FREE made it lazyfree (folio_mark_lazyfree),
        // so reclaim discards it instead of swapping it, unless it was written again.
        bool lazyfree = false;
        // An anonymous large folio that lost the mapping of some of its pages while others
        // stay mapped: on the deferred split queue, folio_test_partially_mapped (v6.12; before,
        // being on the queue meant it). Set by note_unmap; it lasts until the folio is split
        // or freed (or migration hands it to the new folio: migrate.cpp).
        bool partially_mapped = false;
        std::map<unsigned, std::uint64_t> maps;  // mm id -> mapped PTEs (or PMD pages)
        std::uint64_t total() const {
            std::uint64_t n = 0;
            for (const auto& [mm, c] : maps) n += c;
            return n;
        }
    };

    Info& info(std::uint64_t head_pfn) { return m_folios[head_pfn]; }
    const Info* find(std::uint64_t head_pfn) const {
        const auto it = m_folios.find(head_pfn);
        return it == m_folios.end() ? nullptr : &it->second;
    }
    void add(std::uint64_t head_pfn, unsigned mm, std::uint64_t nr) { m_folios[head_pfn].maps[mm] += nr; }
    // Removes `nr` mappings; returns the mappings left over all address spaces.
    std::uint64_t remove(std::uint64_t head_pfn, unsigned mm, std::uint64_t nr) {
        Info& i = m_folios[head_pfn];
        auto it = i.maps.find(mm);
        if (it != i.maps.end()) {
            it->second -= nr < it->second ? nr : it->second;
            if (it->second == 0) i.maps.erase(it);
        }
        return i.total();
    }
    // After mappings of the folio at `head_pfn` (of `order`) were removed, `left` remaining:
    // __folio_remove_rmap queues an anonymous large folio for deferred split, partially
    // mapped, when a page of it is no longer mapped anywhere while another still is
    // (deferred_split_folio(folio, true); order 0 and 1 and swap-cache folios excepted). The
    // model counts mappings per folio, not per page: fewer mappings than pages, none, stands
    // for that (exact for a folio one process maps; a page that two processes stopped mapping
    // while both still map others is missed).
    void note_unmap(std::uint64_t head_pfn, unsigned order, std::uint64_t left) {
        Info& i = m_folios[head_pfn];
        if (order > 1 && i.anon && !i.swapcache && left > 0 && left < (std::uint64_t{1} << order)) i.partially_mapped = true;
    }
    // Mapped by `mm` only (no other address space maps a page of it).
    bool exclusive_to(std::uint64_t head_pfn, unsigned mm) const {
        const Info* i = find(head_pfn);
        if (i == nullptr || !i->anon || i->pagecache) return false;
        for (const auto& [id, c] : i->maps)
            if (id != mm && c != 0) return false;
        return true;
    }
    // Frees the folio's records, its pages' flags included.
    void forget(std::uint64_t head_pfn, std::uint64_t nr_pages) {
        m_folios.erase(head_pfn);
        clear_anon_exclusive(head_pfn, nr_pages);
    }

    // PageAnonExclusive of the pages [pfn, pfn + nr): set when a new anonymous folio is mapped
    // (folio_add_new_anon_rmap) and when a write fault reuses a page (do_wp_page), cleared
    // for the parent's pages when fork shares them (folio_try_dup_anon_rmap_ptes/_pmd). A
    // PMD-mapped THP keeps all its pages in one state, as its head page's flag stands for
    // the whole mapping and a split hands it to every page.
    void set_anon_exclusive(std::uint64_t pfn, std::uint64_t nr) {
        for (std::uint64_t i = 0; i < nr; ++i) m_exclusive.insert(pfn + i);
    }
    void clear_anon_exclusive(std::uint64_t pfn, std::uint64_t nr) {
        m_exclusive.erase(m_exclusive.lower_bound(pfn), m_exclusive.lower_bound(pfn + nr));
    }
    bool anon_exclusive(std::uint64_t pfn) const { return m_exclusive.count(pfn) != 0; }

private:
    std::map<std::uint64_t, Info> m_folios;
    std::set<std::uint64_t> m_exclusive;  // PFNs of PageAnonExclusive pages
};

}  // namespace mmusim::kernel
