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
    // The PTE table under `pmd_entry`, or 0 when the PMD entry is none (no allocation).
    std::uint64_t pte_table(std::uint64_t pmd_entry);
    // Physical address of the PMD entry covering `va`, or 0 when an upper table is missing
    // (no allocation).
    std::uint64_t pmd_lookup(const Mm& mm, std::uint64_t va);
    // The PMD entry's value (a table, a leaf block, or none).
    arch::Desc pmd_read(std::uint64_t pmd_entry) { return m_mem.table_read(pmd_entry); }
    // set_pmd_at of a user leaf: no barrier (the PTE rule); pmd_clear: none needed.
    void set_pmd_at(std::uint64_t pmd_entry, arch::Desc pmd) { m_mem.table_write(pmd_entry, pmd); }
    arch::Desc pmdp_huge_get_and_clear(std::uint64_t pmd_entry) { return m_mem.table_xchg(pmd_entry, 0); }
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
