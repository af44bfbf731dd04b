// Who maps each folio (the rmap and mapcount side of struct folio): per folio, how many PTEs
// of each address space map it, whether it is anonymous, and whether the page cache holds a
// reference. The copy-on-write and reuse decisions of §6.4 and freeing on unmap read it.
#pragma once

#include <cstdint>
#include <map>

namespace mmusim::kernel {

class Rmap {
public:
    struct Info {
        bool anon = false;
        bool pagecache = false;                  // held by the page cache (file folios)
        bool dirty = false;                      // PG_dirty (not the PTE dirty bits)
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
    // Mapped by `mm` only (wp_page_reuse may keep the folio).
    bool exclusive_to(std::uint64_t head_pfn, unsigned mm) const {
        const Info* i = find(head_pfn);
        if (i == nullptr || !i->anon || i->pagecache) return false;
        for (const auto& [id, c] : i->maps)
            if (id != mm && c != 0) return false;
        return true;
    }
    void forget(std::uint64_t head_pfn) { m_folios.erase(head_pfn); }

private:
    std::map<std::uint64_t, Info> m_folios;
};

}  // namespace mmusim::kernel
