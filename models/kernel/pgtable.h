// The arm64 user page-table API (arch/arm64/include/asm/pgtable.h) over real descriptors:
// the double-underscore primitives that touch one entry, the public functions core mm calls,
// and the contpte engine behind them (arch/arm64/mm/contpte.c, in contpte.cpp).
// A PTE pointer (`ptep`) is the physical address of the entry; entry i of a run is ptep + 8i.
// Every function is named after the kernel function it imitates; spec/kernel.md §5 gives
// the event sequence each one must produce.
#pragma once

#include <cstdint>

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

using arch::Desc;

// clear_young_dirty_ptes flags.
enum Cydp : unsigned { kCydpClearYoung = 1, kCydpClearDirty = 2 };

class Pgtable {
public:
    Pgtable(const KernelConfig& config, KernelStats& stats, PteMemory& mem, TlbFlush& flush, LazyMmu& lazy,
            const FolioAllocator& folios);

    const arch::Geometry& geo() const { return m_geo; }

    // Primitives on one entry.
    Desc __ptep_get(std::uint64_t ptep);
    void __set_pte(std::uint64_t ptep, Desc pte);
    void __set_ptes(const Mm& mm, std::uint64_t addr, std::uint64_t ptep, Desc pte, unsigned nr);
    Desc __ptep_get_and_clear(std::uint64_t ptep);
    void __pte_clear(std::uint64_t ptep) { __set_pte(ptep, 0); }
    void __clear_full_ptes(std::uint64_t ptep, unsigned nr);
    Desc __get_and_clear_full_ptes(std::uint64_t ptep, unsigned nr);
    void ___ptep_set_wrprotect(std::uint64_t ptep, Desc pte);
    void __ptep_set_wrprotect(std::uint64_t ptep) { ___ptep_set_wrprotect(ptep, __ptep_get(ptep)); }
    void __wrprotect_ptes(std::uint64_t ptep, unsigned nr);
    bool __ptep_test_and_clear_young(std::uint64_t ptep);
    bool __ptep_clear_flush_young(const Mm& mm, std::uint64_t addr, std::uint64_t ptep);
    void __clear_young_dirty_ptes(std::uint64_t ptep, unsigned nr, unsigned flags);
    int __ptep_set_access_flags(const Mm& mm, std::uint64_t addr, std::uint64_t ptep, Desc entry, bool dirty);

    // Public API (contpte-aware when the kernel is built with contpte).
    Desc ptep_get(std::uint64_t ptep);
    Desc ptep_get_lockless(std::uint64_t ptep);
    // set_pte: no mm, so no unfold (kernel code only).
    void set_pte(std::uint64_t ptep, Desc pte);
    void set_ptes(const Mm& mm, std::uint64_t addr, std::uint64_t ptep, Desc pte, unsigned nr);
    void set_pte_at(const Mm& mm, std::uint64_t addr, std::uint64_t ptep, Desc pte) { set_ptes(mm, addr, ptep, pte, 1); }
    void pte_clear(const Mm& mm, std::uint64_t addr, std::uint64_t ptep);
    Desc ptep_get_and_clear(const Mm& mm, std::uint64_t addr, std::uint64_t ptep);
    void clear_full_ptes(const Mm& mm, std::uint64_t addr, std::uint64_t ptep, unsigned nr);
    Desc get_and_clear_full_ptes(const Mm& mm, std::uint64_t addr, std::uint64_t ptep, unsigned nr);
    // Generic ptep_clear_flush: get-and-clear, then flush_tlb_page if the old entry was
    // accessible (arm64 pte_accessible: valid, AF ignored).
    Desc ptep_clear_flush(const Mm& mm, std::uint64_t addr, std::uint64_t ptep);
    void wrprotect_ptes(const Mm& mm, std::uint64_t addr, std::uint64_t ptep, unsigned nr);
    void ptep_set_wrprotect(const Mm& mm, std::uint64_t addr, std::uint64_t ptep) { wrprotect_ptes(mm, addr, ptep, 1); }
    bool ptep_test_and_clear_young(const Mm& mm, std::uint64_t addr, std::uint64_t ptep);
    bool ptep_clear_flush_young(const Mm& mm, std::uint64_t addr, std::uint64_t ptep);
    // 2026 tree: one call per folio batch.
    bool clear_flush_young_ptes(const Mm& mm, std::uint64_t addr, std::uint64_t ptep, unsigned nr);
    void clear_young_dirty_ptes(const Mm& mm, std::uint64_t addr, std::uint64_t ptep, unsigned nr, unsigned flags);
    int ptep_set_access_flags(const Mm& mm, std::uint64_t addr, std::uint64_t ptep, Desc entry, bool dirty);
    // mprotect's transaction: v6.17+ batched (nr >= 1), before one entry at a time.
    Desc ptep_modify_prot_start(const Mm& mm, std::uint64_t addr, std::uint64_t ptep);
    Desc modify_prot_start_ptes(const Mm& mm, std::uint64_t addr, std::uint64_t ptep, unsigned nr);
    void modify_prot_commit_ptes(const Mm& mm, std::uint64_t addr, std::uint64_t ptep, Desc pte, unsigned nr);

    // contpte engine (contpte.cpp).
    void contpte_try_fold(const Mm& mm, std::uint64_t addr, std::uint64_t ptep, Desc pte);
    void contpte_try_unfold(const Mm& mm, std::uint64_t addr, std::uint64_t ptep, Desc pte);
    void contpte_try_unfold_partial(const Mm& mm, std::uint64_t addr, std::uint64_t ptep, unsigned nr);
    void __contpte_try_fold(const Mm& mm, std::uint64_t addr, std::uint64_t ptep, Desc pte);
    void __contpte_try_unfold(const Mm& mm, std::uint64_t addr, std::uint64_t ptep, Desc pte);
    void contpte_convert(const Mm& mm, std::uint64_t addr, std::uint64_t ptep, Desc pte);
    void contpte_set_ptes(const Mm& mm, std::uint64_t addr, std::uint64_t ptep, Desc pte, unsigned nr);
    // The fold scanner's look at the block starting at `addr` (block aligned): folds it when
    // every entry maps the next page of one folio covering the block with the same
    // attributes. Returns the number of entries read; `folded` tells whether it folded.
    unsigned contpte_scan_block(const Mm& mm, std::uint64_t addr, std::uint64_t ptep, bool& folded);
    Desc contpte_ptep_get(std::uint64_t ptep, Desc orig_pte);
    Desc contpte_ptep_get_lockless(std::uint64_t orig_ptep);
    // What a lockless reader on another core would find at `ptep` right now, read without
    // counting or time (the reader's own accesses are not part of the operation in flight):
    // a cleared entry, a valid entry outside any block, a consistent folded block, or a block
    // a convert is half-way through (the reader would start again).
    enum class LocklessView : std::uint8_t { None, Single, Consistent, Inconsistent };
    LocklessView lockless_view(std::uint64_t ptep);
    bool contpte_test_and_clear_young_ptes(const Mm& mm, std::uint64_t addr, std::uint64_t ptep, unsigned nr);
    bool contpte_clear_flush_young_ptes(const Mm& mm, std::uint64_t addr, std::uint64_t ptep, unsigned nr);
    void contpte_clear_young_dirty_ptes(const Mm& mm, std::uint64_t addr, std::uint64_t ptep, unsigned nr, unsigned flags);
    int contpte_ptep_set_access_flags(const Mm& mm, std::uint64_t addr, std::uint64_t ptep, Desc entry, bool dirty);

    // pte_batch_hint(): how many entries up to the end of the block a cont entry covers.
    unsigned pte_batch_hint(std::uint64_t ptep, Desc pte) const {
        if (!contpte_enabled() || !arch::desc_valid_cont(pte)) return 1;
        return m_geo.cont_ptes() - static_cast<unsigned>((ptep >> 3) & (m_geo.cont_ptes() - 1));
    }
    std::uint64_t pte_pfn(Desc d) const { return arch::desc_pfn(d, m_geo.page_shift); }
    Desc pfn_pte(std::uint64_t pfn, Desc prot) const { return arch::desc_with_pfn(prot, pfn, m_geo.page_shift); }
    bool contpte_enabled() const { return m_config.contpte; }
    // The flush after a dirty access-flag update of one page (also of a PMD leaf), by era
    // (§3.5).
    void flush_access_flag_page(const Mm& mm, std::uint64_t addr);

private:
    // pte_mkcont(): before v6.14 it also set PTE_TYPE_PAGE (both low bits, so PTE_VALID too),
    // a leftover of hugetlb's pte_mkhuge; "arm64/mm: Drop setting PTE_TYPE_PAGE in
    // pte_mkcont()" (posted against v6.12-rc6 in November 2024) removed it; the model takes v6.14
    // as its first release (only the 6.12 side is checked against a real kernel). contpte_set_ptes
    // calls it on whole blocks of any present entry, so a batch of PROT_NONE entries (fork
    // copying a PROT_NONE block) became valid kernel-only entries: seen on Debian's 6.12.
    Desc pte_mkcont(Desc d) const {
        return d | arch::bits::kCont | (m_config.version.at_least(6, 14) ? 0 : arch::bits::kType | arch::bits::kValid);
    }
    Desc pte_mknoncont(Desc d) const { return d & ~arch::bits::kCont; }
    std::uint64_t contpte_align_down(std::uint64_t ptep) const { return ptep & ~(std::uint64_t{m_geo.cont_ptes()} * 8 - 1); }
    // Whether the folio of `pfn`, mapped with that page at `addr`, covers addr's whole block.
    bool folio_covers_block(std::uint64_t addr, std::uint64_t pfn) const;
    // Compares entries `from`.. of the block at `block_ptep` in order with `expected` and the
    // PFNs after it (A/D ignored), stopping at the first that differs; returns the entries read.
    unsigned block_entries_match(std::uint64_t block_ptep, unsigned from, Desc expected, bool& match);
    // contpte_align_addr_ptep(): widen [start, end) to the blocks of cont entries at its ends.
    std::uint64_t contpte_align_addr_ptep(std::uint64_t& start, std::uint64_t& end, std::uint64_t ptep, unsigned nr);
    // Attributes of an entry with A/D normalised (pte_pgprot(pte_mkold(pte_mkclean(pte)))).
    Desc normalised_prot(Desc d) const { return arch::desc_with_pfn(arch::desc_normalise_ad(d), 0, m_geo.page_shift); }
    // An entry of one consistent folded block: valid, CONT, mapping `pfn`, with the block's
    // attributes `prot` (A/D aside).
    bool block_entry_consistent(Desc pte, std::uint64_t pfn, Desc prot) const {
        return arch::desc_valid_cont(pte) && pte_pfn(pte) == pfn && normalised_prot(pte) == prot;
    }

    const KernelConfig& m_config;
    const arch::Geometry& m_geo;
    KernelStats& m_stats;
    PteMemory& m_mem;
    TlbFlush& m_flush;
    LazyMmu& m_lazy;
    const FolioAllocator& m_folios;
};

}  // namespace mmusim::kernel
