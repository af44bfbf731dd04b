// Page-table pages: allocating the PGD, walking down to a PMD entry and allocating missing
// upper tables (p4d/pud/pmd_alloc), and pte_alloc. Each table store of a new table is a
// set_pgd/set_pud/set_pmd, which requests the DSB.ISHST + ISB pair of §4.1.
#pragma once

#include <cstdint>

#include <tlm>

#include "models/arch/descriptor.h"
#include "models/arch/granule.h"
#include "models/kernel/folio_allocator.h"
#include "models/kernel/kernel_config.h"
#include "models/kernel/kernel_stats.h"
#include "models/kernel/lazy_mmu.h"
#include "models/kernel/mm.h"
#include "models/kernel/pte_memory.h"
#include "models/kernel/tlb_flush.h"

namespace mmusim::kernel {

class PgtableAlloc {
public:
    PgtableAlloc(const KernelConfig& config, KernelStats& stats, PteMemory& mem, LazyMmu& lazy,
                 FolioAllocator& folios, tlm::tlm_initiator_socket<>& mem_socket, sc_core::sc_time& delay);

    // A new, cleared top-level table; returns its physical address.
    std::uint64_t pgd_alloc();
    // Physical address of the PMD entry (level 2) covering `va`, allocating the tables above
    // it that are missing.
    std::uint64_t pmd_alloc(const Mm& mm, std::uint64_t va);
    // The PTE table under `pmd_entry`, allocated and installed if none; its physical address.
    std::uint64_t pte_alloc(std::uint64_t pmd_entry);
    // The PTE table under `pmd_entry`, or 0 when the PMD entry is none (no allocation). The
    // callers handle PMD leaves (THP, huge pfn maps) before they look for a table.
    std::uint64_t pte_table(std::uint64_t pmd_entry);
    // pte_alloc_one: a cleared table page not yet installed (THP deposits); pte_free gives
    // it back.
    std::uint64_t pte_alloc_one() { return alloc_table(); }
    void pte_free(std::uint64_t table) { free_table(table); }
    // pmd_populate: installs `table` under `pmd_entry`; a valid PMD store requests barriers.
    void pmd_populate(std::uint64_t pmd_entry, std::uint64_t table);
    // Physical address of the PMD entry covering `va`, or 0 when an upper table is missing
    // (no allocation).
    std::uint64_t pmd_lookup(const Mm& mm, std::uint64_t va);
    // The PMD entry's value (a table, a leaf block, or none).
    arch::Desc pmd_read(std::uint64_t pmd_entry) { return m_mem.table_read(pmd_entry); }
    // set_pmd_at of a user leaf: no barrier (the PTE rule); pmd_clear: none needed.
    void set_pmd_at(std::uint64_t pmd_entry, arch::Desc pmd) { m_mem.table_write(pmd_entry, pmd); }
    arch::Desc pmdp_huge_get_and_clear(std::uint64_t pmd_entry) { return m_mem.table_xchg(pmd_entry, 0); }
    // pmdp_establish: an atomic exchange of a leaf PMD (pmdp_invalidate, pmdp_set_wrprotect).
    arch::Desc pmdp_establish(std::uint64_t pmd_entry, arch::Desc pmd) { return m_mem.table_xchg(pmd_entry, pmd); }
    // Removes the PTE table under `pmd_entry` (pmd_clear) and frees its page.
    void free_pte_table(std::uint64_t pmd_entry);
    // Frees every table page of an address space, the PGD last.
    void free_all_tables(const Mm& mm);
    // Physical address of the PTE of `va` in the table at `pte_table`.
    std::uint64_t pte_offset(std::uint64_t pte_table, std::uint64_t va) const {
        return pte_table + m_geo.index(va, 3) * 8;
    }

private:
    std::uint64_t alloc_table();
    void free_table(std::uint64_t pa);
    void free_level(std::uint64_t table, unsigned level);

    const KernelConfig& m_config;
    const arch::Geometry& m_geo;
    KernelStats& m_stats;
    PteMemory& m_mem;
    LazyMmu& m_lazy;
    FolioAllocator& m_folios;
    tlm::tlm_initiator_socket<>& m_mem_socket;
    sc_core::sc_time& m_delay;
};

}  // namespace mmusim::kernel
