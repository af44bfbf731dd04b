// Reclaim aging (mm/rmap.c folio_referenced): the access flag of every mapping of a folio is
// tested and cleared; up to the 2025 trees one call per mapped entry
// (ptep_clear_flush_young), in the 2026 tree one call per folio batch
// (clear_flush_young_ptes). Each call flushes, without waiting, only entries that were
// young (spec/kernel.md §6.9). The model ages the mappings of the calling process.
#include "models/kernel/mm_ops.h"
#include "models/kernel/pte.h"

namespace mmusim::kernel {

int MmOps::reclaim(Mm& mm, std::uint64_t addr, std::uint64_t len) {
    if (!aligned(addr)) return -err::kEinval;
    len = page_align(len);
    const std::uint64_t end = addr + len;
    const std::uint64_t page = m_k.geo.page_size();
    const bool batched = m_k.config.version.is_current();
    for (auto it = mm.vmas.begin(); it != mm.vmas.end(); ++it) {
        const Vma& vma = it->second;
        const std::uint64_t s = vma.start > addr ? vma.start : addr;
        const std::uint64_t e = vma.end < end ? vma.end : end;
        for (std::uint64_t a = s; a < e;) {
            const std::uint64_t next = m_k.geo.pmd_addr_end(a, e);
            std::uint64_t pmd = 0;
            Desc pmdval = 0;
            const std::uint64_t table = pte_table_of(mm, a, &pmd, &pmdval);
            if (table == 0) {
                // A PMD-mapped THP is aged as one entry (pmdp_clear_flush_young, whose
                // flush waits for completion).
                if (pmd_leaf(pmdval) && !vma.pfnmap() && !is_huge_zero_pmd(pmdval)) {
                    pmdp_clear_flush_young(mm, pmd, a & ~(m_k.geo.pmd_size() - 1));
                    ++m_k.stats.reclaim_aged;
                }
                a = next;
                continue;
            }
            while (a < next) {
                const std::uint64_t ptep = m_k.tables.pte_offset(table, a);
                // page_vma_mapped_walk (map_pte / check_pte) and folio_referenced_one read
                // the entry with ptep_get, which on a folded entry gathers A/D over its block
                // (the contpte getter), not with the raw __ptep_get.
                const Desc pte = m_k.pgtable.ptep_get(ptep);
                unsigned nr = 1;
                // check_pte finds every present entry (pte_present): a PROT_NONE one too, valid
                // bit clear, whose access flag __ptep_test_and_clear_young clears like any other
                // (mm/page_vma_mapped.c check_pte, arch/arm64 pte_present, v6.12 and later).
                const std::optional<Folio> folio = pte_present(pte) ? vm_normal_folio(vma, pte) : std::nullopt;
                if (folio) {
                    if (batched) {
                        if (folio->order > 0)
                            nr = folio_pte_batch(*folio, ptep, pte, static_cast<unsigned>((next - a) / page), 0);
                        (void)m_k.pgtable.clear_flush_young_ptes(mm, a, ptep, nr);
                    } else {
                        (void)m_k.pgtable.ptep_clear_flush_young(mm, a, ptep);
                    }
                    ++m_k.stats.reclaim_aged;
                }
                a += std::uint64_t{nr} * page;
            }
        }
    }
    return 0;
}

}  // namespace mmusim::kernel
