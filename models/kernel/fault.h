// Page-fault handling of core mm (mm/memory.c): handle_mm_fault down to handle_pte_fault and
// the anonymous paths of spec/kernel.md §6.1 and §6.4: do_anonymous_page with the zero page
// and mTHP folio choice (alloc_anon_folio), and do_wp_page / wp_page_copy.
#pragma once

#include <cstdint>
#include <string>

#include "models/arch/fault.h"
#include "models/kernel/folio_allocator.h"
#include "models/kernel/kernel_config.h"
#include "models/kernel/kernel_stats.h"
#include "models/kernel/mm.h"
#include "models/kernel/pgtable.h"
#include "models/kernel/pgtable_alloc.h"

namespace mmusim::kernel {

struct FaultRequest {
    std::uint64_t va = 0;
    arch::Access access = arch::Access::Load;
    arch::FaultKind kind = arch::FaultKind::Translation;
    unsigned level = 3;
};

class FaultHandler {
public:
    FaultHandler(const KernelConfig& config, KernelStats& stats, Pgtable& pgtable, PgtableAlloc& tables,
                 FolioAllocator& folios, sc_core::sc_time& delay);

    // Resolves the fault or throws KernelError (a signal the process would get, or a path
    // the model does not implement). Returns the name of the handler path taken.
    const char* handle_mm_fault(Mm& mm, const FaultRequest& fault);

    // The PTE attributes of the shared zero page's frame.
    std::uint64_t zero_pfn() const { return m_zero_pfn; }

private:
    struct VmFault {
        Mm* mm;
        const Vma* vma;
        std::uint64_t address;        // faulting VA, page aligned
        bool write;                   // FAULT_FLAG_WRITE
        bool use_zero_page;           // a read fault that may map the zero page
        std::uint64_t pmd = 0;        // PA of the PMD entry
        std::uint64_t pte = 0;        // PA of the PTE, 0 when there is no PTE table
        arch::Desc orig_pte = 0;
        bool orig_pte_valid = false;  // FAULT_FLAG_ORIG_PTE_VALID
    };

    const char* handle_pte_fault(VmFault& vmf);
    const char* do_anonymous_page(VmFault& vmf);
    // Returns the folio to map, choosing its order as alloc_anon_folio does.
    Folio alloc_anon_folio(VmFault& vmf, std::uint64_t pte_table);
    bool pte_range_none(std::uint64_t ptep, unsigned nr);
    bool vmf_pte_changed(VmFault& vmf);
    const char* do_wp_page(VmFault& vmf);
    const char* wp_page_copy(VmFault& vmf);
    Folio alloc_folio(unsigned order, bool zero);
    std::string describe(const FaultRequest& f) const;

    const KernelConfig& m_config;
    const arch::Geometry& m_geo;
    KernelStats& m_stats;
    Pgtable& m_pgtable;
    PgtableAlloc& m_tables;
    FolioAllocator& m_folios;
    sc_core::sc_time& m_delay;
    std::uint64_t m_zero_pfn = 0;
};

}  // namespace mmusim::kernel
