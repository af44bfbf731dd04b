#include "models/kernel/pgtable_alloc.h"

#include <vector>

#include "models/arch/descriptor.h"
#include "models/common/cycles.h"
#include "models/kernel/kernel_error.h"

namespace mmusim::kernel {

PgtableAlloc::PgtableAlloc(const KernelConfig& config, KernelStats& stats, PteMemory& mem, LazyMmu& lazy,
                           FolioAllocator& folios, tlm::tlm_initiator_socket<>& mem_socket, sc_core::sc_time& delay)
    : m_config(config), m_geo(arch::geometry(config.granule)), m_stats(stats), m_mem(mem), m_lazy(lazy),
      m_folios(folios), m_mem_socket(mem_socket), m_delay(delay) {}

std::uint64_t PgtableAlloc::alloc_table() {
    const std::optional<Folio> page = m_folios.alloc(0);
    if (!page) throw KernelError("out of memory: no page left for a page table (raise platform.memory.size)");
    const std::uint64_t pa = page->head_pfn << m_geo.page_shift;
    // Clear the page (pagetable pages come zeroed), as one untimed bulk transaction; its
    // cost is the table_alloc figure of the cost table.
    std::vector<unsigned char> zeros(m_geo.page_size(), 0);
    tlm::tlm_generic_payload trans;
    trans.set_command(tlm::TLM_WRITE_COMMAND);
    trans.set_address(pa);
    trans.set_data_ptr(zeros.data());
    trans.set_data_length(static_cast<unsigned>(zeros.size()));
    m_mem_socket->transport_dbg(trans);
    m_delay += cycles_to_time(m_config.costs.table_alloc);
    ++m_stats.tables_allocated;
    return pa;
}

std::uint64_t PgtableAlloc::pgd_alloc() { return alloc_table(); }

std::uint64_t PgtableAlloc::pmd_alloc(const Mm& mm, std::uint64_t va) {
    std::uint64_t table = mm.pgd_pa;
    for (unsigned level = m_geo.start_level; level < 2; ++level) {
        const std::uint64_t entry = table + m_geo.index(va, level) * 8;
        arch::Desc d = m_mem.table_read(entry);
        if (!arch::desc_valid(d)) {
            d = arch::make_table_desc(alloc_table());
            m_mem.table_write(entry, d);
            m_lazy.queue_pte_barriers();  // set_pgd / set_p4d / set_pud
        }
        table = arch::desc_oa(d, m_geo.page_shift);
    }
    return table + m_geo.index(va, 2) * 8;
}

std::uint64_t PgtableAlloc::pte_table(std::uint64_t pmd_entry) {
    const arch::Desc d = m_mem.table_read(pmd_entry);
    if (!arch::desc_valid(d)) return 0;
    if (!arch::desc_is_table_or_page(d))
        throw KernelError("internal error: a PMD leaf was found where a PTE table was expected (the caller must "
                          "split or skip huge PMDs first)");
    return arch::desc_oa(d, m_geo.page_shift);
}

std::uint64_t PgtableAlloc::pte_alloc(std::uint64_t pmd_entry) {
    if (const std::uint64_t table = pte_table(pmd_entry); table != 0) return table;
    const std::uint64_t table = alloc_table();
    pmd_populate(pmd_entry, table);
    return table;
}

void PgtableAlloc::pmd_populate(std::uint64_t pmd_entry, std::uint64_t table) {
    m_mem.table_write(pmd_entry, arch::make_table_desc(table));
    m_lazy.queue_pte_barriers();
}

std::uint64_t PgtableAlloc::pmd_lookup(const Mm& mm, std::uint64_t va) {
    std::uint64_t table = mm.pgd_pa;
    for (unsigned level = m_geo.start_level; level < 2; ++level) {
        const arch::Desc d = m_mem.table_read(table + m_geo.index(va, level) * 8);
        if (!arch::desc_valid(d)) return 0;
        table = arch::desc_oa(d, m_geo.page_shift);
    }
    return table + m_geo.index(va, 2) * 8;
}

void PgtableAlloc::free_table(std::uint64_t pa) {
    const std::optional<Folio> page = m_folios.folio_of(pa >> m_geo.page_shift);
    if (page) m_folios.free(*page);
    ++m_stats.tables_freed;
}

void PgtableAlloc::free_pte_table(std::uint64_t pmd_entry) {
    const arch::Desc d = m_mem.table_read(pmd_entry);
    if (!arch::desc_valid(d) || !arch::desc_is_table_or_page(d)) return;
    m_mem.table_write(pmd_entry, 0);  // pmd_clear: an invalid store needs no barrier
    free_table(arch::desc_oa(d, m_geo.page_shift));
}

void PgtableAlloc::free_level(std::uint64_t table, unsigned level) {
    if (level < 2) {
        // Upper levels are read without counting: teardown of a whole address space.
        for (std::uint64_t i = 0; i < m_geo.ptrs_per_table(); ++i) {
            const arch::Desc d = m_mem.peek(table + i * 8);
            if (arch::desc_valid(d) && arch::desc_is_table_or_page(d)) free_level(arch::desc_oa(d, m_geo.page_shift), level + 1);
        }
    } else if (level == 2) {
        for (std::uint64_t i = 0; i < m_geo.ptrs_per_table(); ++i) {
            const arch::Desc d = m_mem.peek(table + i * 8);
            if (arch::desc_valid(d) && arch::desc_is_table_or_page(d)) free_table(arch::desc_oa(d, m_geo.page_shift));
        }
    }
    free_table(table);
}

void PgtableAlloc::free_all_tables(const Mm& mm) { free_level(mm.pgd_pa, m_geo.start_level); }

}  // namespace mmusim::kernel
