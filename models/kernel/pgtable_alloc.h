// Page-table pages: allocating the PGD, walking down to a PMD entry and allocating missing
// upper tables (p4d/pud/pmd_alloc), and pte_alloc. Each table store of a new table is a
// set_pgd/set_pud/set_pmd, which requests the DSB.ISHST + ISB pair of §4.1.
#pragma once

#include <cstdint>

#include <tlm>

#include "models/arch/granule.h"
#include "models/kernel/folio_allocator.h"
#include "models/kernel/kernel_config.h"
#include "models/kernel/kernel_stats.h"
#include "models/kernel/mm.h"
#include "models/kernel/pte_memory.h"
#include "models/kernel/tlb_flush.h"

namespace mmusim::kernel {

class PgtableAlloc {
public:
    PgtableAlloc(const KernelConfig& config, KernelStats& stats, PteMemory& mem, TlbFlush& flush,
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
    // Physical address of the PTE of `va` in the table at `pte_table`.
    std::uint64_t pte_offset(std::uint64_t pte_table, std::uint64_t va) const {
        return pte_table + m_geo.index(va, 3) * 8;
    }

private:
    std::uint64_t alloc_table();

    const KernelConfig& m_config;
    const arch::Geometry& m_geo;
    KernelStats& m_stats;
    PteMemory& m_mem;
    TlbFlush& m_flush;
    FolioAllocator& m_folios;
    tlm::tlm_initiator_socket<>& m_mem_socket;
    sc_core::sc_time& m_delay;
};

}  // namespace mmusim::kernel
