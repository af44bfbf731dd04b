// madvise (mm/madvise.c): DONTNEED zaps with one gather for the whole call, FREE clears
// access/dirty state of whole folios without unfolding, and the flag advices only change
// VMAs (spec/kernel.md §6.7).
#include <vector>

#include "models/kernel/mm_ops.h"
#include "models/kernel/pte.h"

namespace mmusim::kernel {

// madvise_free_single_vma: lazy freeing of [start, end) of one VMA, PMD range by PMD range.
void MmOps::madvise_free_single_vma(MmuGather& tlb, Mm& mm, const Vma& vma, std::uint64_t start, std::uint64_t end) {
    tlb.tlb_start_vma(vma);
    for (std::uint64_t a = start; a < end;) {
        const std::uint64_t next = m_k.geo.pmd_addr_end(a, end);
        std::uint64_t pmd = 0;
        Desc pmdval = 0;
        if (const std::uint64_t table = pte_table_of(mm, a, &pmd, &pmdval); table != 0) {
            madvise_free_pte_range(tlb, mm, vma, table, a, next, start, end);
        } else if (pmd_leaf(pmdval)) {
            // A THP wholly inside the range is freed lazily as one; a partly covered one
            // would have its folio split, which the model leaves alone (counted).
            if (next - a == m_k.geo.pmd_size()) madvise_free_huge_pmd(tlb, mm, pmd, a);
            else ++m_k.stats.madvise_free_skipped;
        }
        a = next;
    }
    tlb.tlb_end_vma(vma);
}

// madvise_free_pte_range over [addr, end) of one PTE table; [start, stop) is the advised range,
// which a large folio must lie in to be freed.
void MmOps::madvise_free_pte_range(MmuGather& tlb, Mm& mm, const Vma& vma, std::uint64_t table, std::uint64_t addr,
                                   std::uint64_t end, std::uint64_t start, std::uint64_t stop) {
    const std::uint64_t page = m_k.geo.page_size();
    flush_tlb_batched_pending(mm);
    const LazyMmu::State lazy = m_k.lazy.enable();
    while (addr < end) {
        const std::uint64_t ptep = m_k.tables.pte_offset(table, addr);
        const Desc pte = m_k.pgtable.ptep_get(ptep);
        unsigned nr = 1;
        const std::optional<Folio> folio = pte_present(pte) ? vm_normal_folio(vma, pte) : std::nullopt;
        if (folio) {
            const bool shared = !m_k.rmap.exclusive_to(folio->head_pfn, mm.id);
            if (folio->order > 0) {
                // A large folio only partly inside the range would be split first; the model
                // leaves such folios alone (counted).
                const std::uint64_t fstart = addr - (arch::desc_pfn(pte, m_k.geo.page_shift) - folio->head_pfn) * page;
                const std::uint64_t fend = fstart + folio->nr_pages() * page;
                if (fstart < start || fend > stop || shared) {
                    ++m_k.stats.madvise_free_skipped;
                    nr = static_cast<unsigned>((std::min(fend, end) - addr) / page);
                    addr += std::uint64_t{nr} * page;
                    continue;
                }
                Desc merged = pte;
                nr = folio_pte_batch(*folio, ptep, pte, static_cast<unsigned>((end - addr) / page), kFpbMergeYoungDirty,
                                     &merged);
                if (arch::desc_young(merged) || arch::desc_dirty(merged)) {
                    m_k.pgtable.clear_young_dirty_ptes(mm, addr, ptep, nr, kCydpClearYoung | kCydpClearDirty);
                    tlb.tlb_flush_pte_range(addr, std::uint64_t{nr} * page);
                }
            } else if (!shared && (arch::desc_young(pte) || arch::desc_dirty(pte))) {
                m_k.pgtable.clear_young_dirty_ptes(mm, addr, ptep, 1, kCydpClearYoung | kCydpClearDirty);
                tlb.tlb_flush_pte_range(addr, page);
            }
        }
        addr += std::uint64_t{nr} * page;
    }
    m_k.lazy.disable(lazy);
}

int MmOps::madvise(Mm& mm, std::uint64_t addr, std::uint64_t len, Advice advice) {
    if (!aligned(addr)) return -err::kEinval;
    len = page_align(len);
    if (len == 0) return 0;
    const std::uint64_t end = addr + len;
    if (end <= addr || end > arch::kUserVaEnd) return -err::kEinval;
    const bool hole = !covered(mm, addr, end);
    // Advices valid only for some VMAs (Linux checks each before acting).
    for (const auto& [start, v] : mm.vmas) {
        if (v.end <= addr || v.start >= end) continue;
        if ((advice == Advice::DontNeed || advice == Advice::Free) && v.pfnmap()) return -err::kEinval;
        if (advice == Advice::Free && !v.anonymous()) return -err::kEinval;
    }
    if (advice == Advice::DontNeed || advice == Advice::Free) {
        MmuGather tlb = make_gather(mm, false);
        for (auto it = mm.vmas.begin(); it != mm.vmas.end(); ++it) {
            const Vma& vma = it->second;
            const std::uint64_t s = vma.start > addr ? vma.start : addr;
            const std::uint64_t e = vma.end < end ? vma.end : end;
            if (s >= e) continue;
            if (advice == Advice::DontNeed) {
                unmap_page_range(tlb, mm, vma, s, e, ZapDetails{false});
                continue;
            }
            madvise_free_single_vma(tlb, mm, vma, s, e);
        }
        tlb.tlb_finish_mmu();
        return hole ? -err::kEnomem : 0;
    }
    // Flag advices: split the VMAs to the range and set the flag.
    split_vma_at(mm, addr);
    split_vma_at(mm, end);
    for (auto it = mm.vmas.lower_bound(addr); it != mm.vmas.end() && it->second.start < end; ++it) {
        VmFlags& f = it->second.flags;
        switch (advice) {
            case Advice::HugePage: f.hugepage = true; f.nohugepage = false; break;
            case Advice::NoHugePage: f.nohugepage = true; f.hugepage = false; break;
            case Advice::DontFork: f.dontfork = true; break;
            case Advice::DoFork: f.dontfork = false; break;
            case Advice::DontNeed: case Advice::Free: break;
        }
    }
    merge_vmas(mm, addr, end);
    return hole ? -err::kEnomem : 0;
}

}  // namespace mmusim::kernel
