#include "models/kernel/pgtable.h"

#include "models/kernel/pte.h"

namespace mmusim::kernel {

using namespace arch::bits;

Pgtable::Pgtable(const KernelConfig& config, KernelStats& stats, PteMemory& mem, TlbFlush& flush, LazyMmu& lazy,
                 const FolioAllocator& folios)
    : m_config(config), m_geo(arch::geometry(config.granule)), m_stats(stats), m_mem(mem), m_flush(flush),
      m_lazy(lazy), m_folios(folios) {}

// ---- primitives ---------------------------------------------------------------------------

Desc Pgtable::__ptep_get(std::uint64_t ptep) { return m_mem.read(ptep); }

Desc Pgtable::__ptep_get_and_clear(std::uint64_t ptep) { return m_mem.xchg(ptep, 0); }

void Pgtable::__set_pte(std::uint64_t ptep, Desc pte) {
    m_mem.write(ptep, pte);
    // Only valid kernel entries ask for barriers; user entries never do: a racing access
    // takes a spurious fault instead (§4.1).
    if (pte_valid_not_user(pte)) m_lazy.queue_pte_barriers();
}

void Pgtable::__set_ptes(const Mm& /*mm*/, std::uint64_t /*addr*/, std::uint64_t ptep, Desc pte, unsigned nr) {
    for (unsigned i = 0; i < nr; ++i) {
        m_mem.write(ptep + 8 * i, pte);
        if (i + 1 < nr) pte = pfn_pte(pte_pfn(pte) + 1, pte);
    }
    // One barrier request for the whole call, decided by the last value written.
    if (pte_valid_not_user(pte)) m_lazy.queue_pte_barriers();
}

void Pgtable::__clear_full_ptes(std::uint64_t ptep, unsigned nr) {
    for (unsigned i = 0; i < nr; ++i) (void)__ptep_get_and_clear(ptep + 8 * i);
}

Desc Pgtable::__get_and_clear_full_ptes(std::uint64_t ptep, unsigned nr) {
    Desc pte = __ptep_get_and_clear(ptep);
    for (unsigned i = 1; i < nr; ++i) {
        const Desc tmp = __ptep_get_and_clear(ptep + 8 * i);
        if (arch::desc_dirty(tmp)) pte = arch::desc_mkdirty(pte);
        if (arch::desc_young(tmp)) pte = arch::desc_mkyoung(pte);
    }
    return pte;
}

void Pgtable::___ptep_set_wrprotect(std::uint64_t ptep, Desc pte) {
    // A compare-and-swap loop; uncontended it succeeds at once.
    for (;;) {
        const Desc old = pte;
        const Desc seen = m_mem.cas(ptep, old, pte_wrprotect(old));
        if (seen == old) return;
        pte = seen;
    }
}

void Pgtable::__wrprotect_ptes(std::uint64_t ptep, unsigned nr) {
    for (unsigned i = 0; i < nr; ++i) __ptep_set_wrprotect(ptep + 8 * i);
}

bool Pgtable::__ptep_test_and_clear_young(std::uint64_t ptep) {
    Desc pte = __ptep_get(ptep);
    for (;;) {
        const Desc old = pte;
        const Desc seen = m_mem.cas(ptep, old, arch::desc_mkold(old));
        if (seen == old) return arch::desc_young(old);
        pte = seen;
    }
}

bool Pgtable::__ptep_clear_flush_young(const Mm& mm, std::uint64_t addr, std::uint64_t ptep) {
    const bool young = __ptep_test_and_clear_young(ptep);
    // The trailing DSB is elided: at worst a CPU keeps using the young entry until its next
    // context switch.
    if (young) m_flush.flush_tlb_page_nosync(mm, addr);
    return young;
}

void Pgtable::__clear_young_dirty_ptes(std::uint64_t ptep, unsigned nr, unsigned flags) {
    for (unsigned i = 0; i < nr; ++i) {
        const std::uint64_t p = ptep + 8 * i;
        Desc pte = __ptep_get(p);
        if (flags == (kCydpClearYoung | kCydpClearDirty)) {
            __set_pte(p, arch::desc_mkclean(arch::desc_mkold(pte)));
            continue;
        }
        for (;;) {
            Desc next = pte;
            if ((flags & kCydpClearYoung) != 0) next = arch::desc_mkold(next);
            if ((flags & kCydpClearDirty) != 0) next = arch::desc_mkclean(next);
            const Desc seen = m_mem.cas(p, pte, next);
            if (seen == pte) break;
            pte = seen;
        }
    }
}

void Pgtable::flush_access_flag_page(const Mm& mm, std::uint64_t addr) {
    // v6.19 made the fix-up flush local: only this CPU can hold the stale read-only entry
    // that faulted.
    if (m_config.version.at_least(6, 19)) m_flush.local_flush_tlb_page(mm, addr);
    else m_flush.flush_tlb_page(mm, addr);
}

int Pgtable::__ptep_set_access_flags(const Mm& mm, std::uint64_t addr, std::uint64_t ptep, Desc entry, bool dirty) {
    Desc pte = __ptep_get(ptep);
    if (pte_same(pte, entry)) return 0;
    for (;;) {
        const Desc old = pte;
        const Desc next = access_flags_update(old, entry);
        const Desc seen = m_mem.cas(ptep, old, next);
        if (seen == old) break;
        pte = seen;
    }
    if (dirty) flush_access_flag_page(mm, addr);
    return 1;
}

// ---- public API ---------------------------------------------------------------------------

Desc Pgtable::ptep_get(std::uint64_t ptep) {
    const Desc pte = __ptep_get(ptep);
    if (!contpte_enabled() || !arch::desc_valid_cont(pte)) return pte;
    return contpte_ptep_get(ptep, pte);
}

Desc Pgtable::ptep_get_lockless(std::uint64_t ptep) {
    // As in Linux: one read; a folded target is then read again by the consistency loop.
    const Desc pte = __ptep_get(ptep);
    if (!contpte_enabled() || !arch::desc_valid_cont(pte)) return pte;
    return contpte_ptep_get_lockless(ptep);
}

void Pgtable::set_pte(std::uint64_t ptep, Desc pte) {
    if (!contpte_enabled()) {
        __set_pte(ptep, pte);
        return;
    }
    // No mm or address to unfold with: only a warning if the entry was part of a block.
    const Desc orig = __ptep_get(ptep);
    if (arch::desc_valid_cont(orig)) ++m_stats.set_pte_on_cont_warnings;
    __set_pte(ptep, pte_mknoncont(pte));
}

void Pgtable::set_ptes(const Mm& mm, std::uint64_t addr, std::uint64_t ptep, Desc pte, unsigned nr) {
    if (!contpte_enabled()) {
        __set_ptes(mm, addr, ptep, pte, nr);
        return;
    }
    pte = pte_mknoncont(pte);
    if (nr == 1) {
        contpte_try_unfold(mm, addr, ptep, __ptep_get(ptep));
        __set_ptes(mm, addr, ptep, pte, 1);
        contpte_try_fold(mm, addr, ptep, pte);
    } else {
        contpte_set_ptes(mm, addr, ptep, pte, nr);
    }
}

void Pgtable::pte_clear(const Mm& mm, std::uint64_t addr, std::uint64_t ptep) {
    if (contpte_enabled()) contpte_try_unfold(mm, addr, ptep, __ptep_get(ptep));
    __pte_clear(ptep);
}

Desc Pgtable::ptep_get_and_clear(const Mm& mm, std::uint64_t addr, std::uint64_t ptep) {
    if (contpte_enabled()) contpte_try_unfold(mm, addr, ptep, __ptep_get(ptep));
    return __ptep_get_and_clear(ptep);
}

void Pgtable::clear_full_ptes(const Mm& mm, std::uint64_t addr, std::uint64_t ptep, unsigned nr) {
    if (!contpte_enabled()) {
        __clear_full_ptes(ptep, nr);
        return;
    }
    if (nr == 1) contpte_try_unfold(mm, addr, ptep, __ptep_get(ptep));
    else contpte_try_unfold_partial(mm, addr, ptep, nr);
    __clear_full_ptes(ptep, nr);
}

Desc Pgtable::get_and_clear_full_ptes(const Mm& mm, std::uint64_t addr, std::uint64_t ptep, unsigned nr) {
    if (!contpte_enabled()) return __get_and_clear_full_ptes(ptep, nr);
    if (nr == 1) contpte_try_unfold(mm, addr, ptep, __ptep_get(ptep));
    else contpte_try_unfold_partial(mm, addr, ptep, nr);
    return __get_and_clear_full_ptes(ptep, nr);
}

Desc Pgtable::ptep_clear_flush(const Mm& mm, std::uint64_t addr, std::uint64_t ptep) {
    const Desc pte = ptep_get_and_clear(mm, addr, ptep);
    if (arch::desc_valid(pte)) m_flush.flush_tlb_page(mm, addr);
    return pte;
}

void Pgtable::wrprotect_ptes(const Mm& mm, std::uint64_t addr, std::uint64_t ptep, unsigned nr) {
    if (!contpte_enabled()) {
        __wrprotect_ptes(ptep, nr);
        return;
    }
    if (nr == 1) {
        // Only present entries get here, so the CONT bit alone decides; the value read is
        // reused for the compare-and-swap.
        Desc orig = __ptep_get(ptep);
        if (arch::desc_cont(orig)) {
            __contpte_try_unfold(mm, addr, ptep, orig);
            orig = pte_mknoncont(orig);
        }
        ___ptep_set_wrprotect(ptep, orig);
        return;
    }
    // Whole blocks keep CONT: every entry becomes read-only and the caller's later flush
    // makes that visible; a partly covered block must be unfolded first.
    contpte_try_unfold_partial(mm, addr, ptep, nr);
    __wrprotect_ptes(ptep, nr);
}

bool Pgtable::ptep_test_and_clear_young(const Mm& mm, std::uint64_t addr, std::uint64_t ptep) {
    if (!contpte_enabled()) return __ptep_test_and_clear_young(ptep);
    const Desc orig = __ptep_get(ptep);
    if (!arch::desc_valid_cont(orig)) return __ptep_test_and_clear_young(ptep);
    return contpte_test_and_clear_young_ptes(mm, addr, ptep, 1);
}

bool Pgtable::ptep_clear_flush_young(const Mm& mm, std::uint64_t addr, std::uint64_t ptep) {
    if (!contpte_enabled()) return __ptep_clear_flush_young(mm, addr, ptep);
    const Desc orig = __ptep_get(ptep);
    if (!arch::desc_valid_cont(orig)) return __ptep_clear_flush_young(mm, addr, ptep);
    return contpte_clear_flush_young_ptes(mm, addr, ptep, 1);
}

bool Pgtable::clear_flush_young_ptes(const Mm& mm, std::uint64_t addr, std::uint64_t ptep, unsigned nr) {
    if (!contpte_enabled()) {
        bool young = false;
        for (unsigned i = 0; i < nr; ++i) young |= __ptep_clear_flush_young(mm, addr + i * m_geo.page_size(), ptep + 8 * i);
        return young;
    }
    if (nr == 1 && !arch::desc_cont(__ptep_get(ptep))) return __ptep_clear_flush_young(mm, addr, ptep);
    return contpte_clear_flush_young_ptes(mm, addr, ptep, nr);
}

void Pgtable::clear_young_dirty_ptes(const Mm& mm, std::uint64_t addr, std::uint64_t ptep, unsigned nr, unsigned flags) {
    if (!contpte_enabled()) {
        __clear_young_dirty_ptes(ptep, nr, flags);
        return;
    }
    if (nr == 1 && !arch::desc_cont(__ptep_get(ptep))) __clear_young_dirty_ptes(ptep, nr, flags);
    else contpte_clear_young_dirty_ptes(mm, addr, ptep, nr, flags);
}

int Pgtable::ptep_set_access_flags(const Mm& mm, std::uint64_t addr, std::uint64_t ptep, Desc entry, bool dirty) {
    if (!contpte_enabled()) return __ptep_set_access_flags(mm, addr, ptep, entry, dirty);
    const Desc orig = __ptep_get(ptep);
    entry = pte_mknoncont(entry);
    if (!arch::desc_valid_cont(orig)) return __ptep_set_access_flags(mm, addr, ptep, entry, dirty);
    return contpte_ptep_set_access_flags(mm, addr, ptep, entry, dirty);
}

Desc Pgtable::ptep_modify_prot_start(const Mm& mm, std::uint64_t addr, std::uint64_t ptep) {
    // arch/arm64/mm/mmu.c up to v6.16. Erratum 2645198: a change away from executable needs
    // break-before-make, so an executable entry is cleared and flushed at once (whatever the
    // new protection; the helper does not know it). The test reads the entry with ptep_get
    // first (1 R, the whole block on a folded entry), before the clear reads it again.
    if (m_config.erratum_2645198 && pte_user_exec(ptep_get(ptep))) return ptep_clear_flush(mm, addr, ptep);
    return ptep_get_and_clear(mm, addr, ptep);
}

Desc Pgtable::modify_prot_start_ptes(const Mm& mm, std::uint64_t addr, std::uint64_t ptep, unsigned nr) {
    if (!m_config.version.at_least(6, 17)) {
        // Before "arm64: Add batched versions of ptep_modify_prot_start/commit" (v6.17) core mm
        // starts one entry at a time (ptep_modify_prot_start);
        // the generic loop is kept so that any nr gathers A/D as the generic helper does.
        Desc pte = ptep_modify_prot_start(mm, addr, ptep);
        for (unsigned i = 1; i < nr; ++i) {
            const Desc tmp = ptep_modify_prot_start(mm, addr + i * m_geo.page_size(), ptep + 8 * i);
            if (arch::desc_dirty(tmp)) pte = arch::desc_mkdirty(pte);
            if (arch::desc_young(tmp)) pte = arch::desc_mkyoung(pte);
        }
        return pte;
    }
    const Desc pte = get_and_clear_full_ptes(mm, addr, ptep, nr);
    // Erratum 2645198 from v6.17 ("arm64: Add batched versions of
    // ptep_modify_prot_start/commit"; unchanged in the current tree): the
    // kernel calls __flush_tlb_range(vma, addr, nr * PAGE_SIZE, ...), an end below the start
    // for any user address above nr pages. The unsigned length wraps, the range is "too
    // large", and the flush escalates to flush_tlb_mm (ASIDE1IS) of the whole address space.
    // This models what the kernel does, not what was meant (addr + nr * PAGE_SIZE).
    if (m_config.erratum_2645198 && arch::desc_valid(pte) && pte_user_exec(pte))
        m_flush.flush_tlb_range(mm, addr, nr * m_geo.page_size(), m_geo.page_size(), true, 3);
    return pte;
}

void Pgtable::modify_prot_commit_ptes(const Mm& mm, std::uint64_t addr, std::uint64_t ptep, Desc pte, unsigned nr) {
    set_ptes(mm, addr, ptep, pte, nr);
}

}  // namespace mmusim::kernel
