#include "models/kernel/fold_scanner.h"

#include <algorithm>
#include <iterator>

#include "models/common/cycles.h"

namespace mmusim::kernel {

std::uint64_t FoldScanner::next_pte_table(const Mm& mm, std::uint64_t& va, std::uint64_t end) {
    const arch::Geometry& geo = m_k.geo;
    while (va < end) {
        // Walk down from the top; an empty entry skips the whole range it would map.
        std::uint64_t table = mm.pgd_pa;
        unsigned level = geo.start_level;
        bool skipped = false;
        for (; level <= 2; ++level) {
            const Desc d = m_k.mem.table_read(table + geo.index(va, level) * 8);
            if (!arch::desc_valid(d) || !arch::desc_is_table_or_page(d)) {
                // None, or a PMD leaf (a THP or a huge pfn map): nothing to fold below it.
                const std::uint64_t size = geo.level_size(level);
                const std::uint64_t next = (va & ~(size - 1)) + size;
                va = next > va ? next : end;  // the last range of the VA space wraps to 0
                skipped = true;
                break;
            }
            table = arch::desc_oa(d, geo.page_shift);
        }
        if (!skipped) return table;
    }
    return 0;
}

void FoldScanner::pass(const std::map<unsigned, std::unique_ptr<Mm>>& processes) {
    // Without CONFIG_ARM64_CONTPTE there is no PTE_CONT to set: nothing to scan for.
    if (!m_k.config.contpte) return;
    const arch::Geometry& geo = m_k.geo;
    const std::uint64_t block = geo.cont_pte_size();
    const unsigned n = geo.cont_ptes();
    KernelStats& stats = m_k.stats;
    ++stats.scan_passes;
    const sc_core::sc_time start = m_k.delay;
    std::uint64_t budget = m_k.config.fold_scanner.pages_per_pass;
    // At most one round over every address space per pass (the first one may be entered
    // twice: from where the last pass stopped, then from its start).
    auto it = processes.lower_bound(m_process);
    if (it == processes.end() || it->first != m_process) m_va = 0;
    std::size_t mms_left = processes.size() + (m_va != 0 ? 1 : 0);
    while (budget > 0 && mms_left > 0 && !processes.empty()) {
        if (it == processes.end()) it = processes.begin();
        m_process = it->first;
        const Mm& mm = *it->second;
        bool stopped = false;  // the budget ran out inside this address space
        while (!stopped) {
            // The VMA holding m_va, or the next one.
            auto v = mm.vmas.upper_bound(m_va);
            if (v != mm.vmas.begin() && std::prev(v)->second.end > m_va) --v;
            if (v == mm.vmas.end()) break;
            const Vma& vma = v->second;
            // Whole blocks of VMAs with folios only.
            std::uint64_t va = (std::max(m_va, vma.start) + block - 1) & ~(block - 1);
            const std::uint64_t last = vma.end & ~(block - 1);
            while (!vma.pfnmap() && mm.user && va < last) {
                if (budget == 0) {
                    stopped = true;
                    break;
                }
                const std::uint64_t table = next_pte_table(mm, va, last);
                if (table == 0) break;
                const std::uint64_t table_end = geo.pmd_addr_end(va, last);
                for (; budget > 0 && va < table_end; va += block) {
                    bool folded = false;
                    const unsigned read = m_k.pgtable.contpte_scan_block(mm, va, m_k.tables.pte_offset(table, va), folded);
                    ++stats.scan_blocks;
                    stats.scan_entries += read;
                    if (folded) ++stats.scan_folds;
                    m_k.delay += cycles_to_time(m_k.config.fold_scanner.entry_cycles * read);
                    budget = budget > n ? budget - n : 0;
                }
            }
            m_va = stopped ? va : vma.end;
        }
        if (stopped) break;
        // This address space is done: the next one, from its start.
        ++it;
        m_va = 0;
        --mms_left;
    }
    if (it == processes.end() && !processes.empty()) it = processes.begin();
    if (it != processes.end()) m_process = it->first;
    stats.scan_cycles += time_to_cycles(m_k.delay - start);
}

}  // namespace mmusim::kernel
