// Page-fault handling of core mm (mm/memory.c, mm/huge_memory.c): handle_mm_fault down to
// handle_pte_fault and the paths of spec/kernel.md §6.1-§6.4 and §6.10: anonymous faults with
// the zero page and the mTHP folio choice, file faults with fault-around, pfn map faults
// (driver inserts, huge PMD inserts), write-protect faults (uffd-wp, reuse, copy),
// access-flag and dirty fix-ups, uffd-wp markers and NUMA hinting faults. A userfaultfd
// event is answered by a modelled monitor: UFFDIO_COPY for a missing page, UFFDIO_WRITEPROTECT
// (unprotect) for a synchronous write-protect fault.
#pragma once

#include <cstdint>
#include <string>

#include "models/arch/fault.h"
#include "models/kernel/kernel_context.h"
#include "models/kernel/mm.h"
#include "models/kernel/mm_ops.h"
#include "models/kernel/page_alloc.h"

namespace mmusim::kernel {

struct FaultRequest {
    std::uint64_t va = 0;
    arch::Access access = arch::Access::Load;
    arch::FaultKind kind = arch::FaultKind::Translation;
    unsigned level = 3;
};

class FaultHandler {
public:
    FaultHandler(KernelContext& k, PageAlloc& pages, MmOps& ops);

    // Resolves the fault or throws KernelError (a signal the process would get, or a path
    // the model does not implement). Returns the name of the handler path taken.
    const char* handle_mm_fault(Mm& mm, const FaultRequest& fault);

private:
    struct VmFault {
        Mm* mm;
        Vma* vma;
        std::uint64_t address;        // faulting VA, page aligned
        bool write;                   // FAULT_FLAG_WRITE
        bool exec = false;            // an instruction fetch (FAULT_FLAG_INSTRUCTION)
        bool use_zero_page;           // a read fault that may map the zero page
        std::uint64_t pmd = 0;        // PA of the PMD entry
        std::uint64_t pte = 0;        // PA of the PTE, 0 when there is no PTE table
        arch::Desc orig_pte = 0;
        bool orig_pte_valid = false;  // FAULT_FLAG_ORIG_PTE_VALID
        bool uffd_wp_marker = false;  // the entry was a uffd-wp marker
    };

    const char* handle_pte_fault(VmFault& vmf);
    const char* handle_huge_pfnmap(VmFault& vmf, arch::Desc pmdval);
    // PMD-sized anonymous THP (fault_huge.cpp). A null result falls back to the PTE level
    // (VM_FAULT_FALLBACK), after a split where one was needed.
    const char* do_huge_pmd_anonymous_page(VmFault& vmf);
    const char* do_huge_pmd_wp_page(VmFault& vmf, arch::Desc orig_pmd);
    const char* huge_pmd_set_accessed(VmFault& vmf, arch::Desc orig_pmd);
    // pmdp_set_access_flags: AF/dirty/write added in place; a dirty update flushes the page
    // (locally from v6.19). False when the entry already had them.
    bool pmdp_set_access_flags(const Mm& mm, std::uint64_t haddr, std::uint64_t pmd, arch::Desc entry, bool dirty);
    // The huge zero folio, reserved on first use; 0 when no PMD-sized block is free.
    std::uint64_t huge_zero_pfn();
    // A new PMD-sized anonymous folio mapped at the fault's PMD (map_anon_folio_pmd_pf).
    void map_anon_folio_pmd(VmFault& vmf, const Folio& folio);
    const char* do_anonymous_page(VmFault& vmf);
    Folio alloc_anon_folio(VmFault& vmf, std::uint64_t pte_table);
    bool pte_range_none(std::uint64_t ptep, unsigned nr);
    bool vmf_pte_changed(VmFault& vmf);
    const char* do_fault(VmFault& vmf);
    // The page-cache folio holding file page `pgoff`, read in if missing.
    Folio filemap_get_folio(const Vma& vma, std::uint64_t pgoff, bool& was_cached);
    // do_fault_around / filemap_map_pages: true when the faulting page got mapped.
    bool do_fault_around(VmFault& vmf);
    const char* finish_fault(VmFault& vmf, const Folio& folio, std::uint64_t pgoff, bool anon_copy);
    const char* do_pfn_fault(VmFault& vmf);
    const char* do_wp_page(VmFault& vmf);
    const char* wp_page_reuse(VmFault& vmf);
    // wp_can_reuse_anon_folio (and __wp_can_reuse_large_anon_folio from v6.15): whether a
    // write fault may reuse a page of `folio` that is not PageAnonExclusive.
    bool wp_can_reuse_anon_folio(const Folio& folio, const Mm& mm) const;
    const char* wp_page_copy(VmFault& vmf);
    // A fault on a swap entry (fault_swap.cpp): do_swap_page, and the folio it reads into
    // when it skips the swap cache (alloc_swap_folio: mTHP orders from v6.13).
    const char* do_swap_page(VmFault& vmf);
    Folio alloc_swap_folio(VmFault& vmf);
    // A fault on a migration entry (do_swap_page's migration_entry_wait).
    const char* migration_entry_wait(VmFault& vmf);
    const char* do_numa_page(VmFault& vmf);
    std::uint64_t file_pgoff(const Vma& vma, std::uint64_t addr) const {
        return vma.pgoff + ((addr - vma.start) >> m_k.geo.page_shift);
    }
    std::string describe(const FaultRequest& f) const;

    KernelContext& m_k;
    PageAlloc& m_pages;
    MmOps& m_ops;
};

}  // namespace mmusim::kernel
