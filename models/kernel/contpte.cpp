// The contpte engine (arch/arm64/mm/contpte.c and the inline wrappers of pgtable.h):
// folding a block of CONT_PTES entries into one contiguous mapping, unfolding it, and the
// getters that gather access/dirty state over a folded block. spec/kernel.md §5.
#include <stdexcept>

#include "models/common/log.h"
#include "models/kernel/pgtable.h"
#include "models/kernel/pte.h"
#include "models/kernel/timeline.h"

namespace mmusim::kernel {

using namespace arch::bits;

void Pgtable::contpte_try_fold(const Mm& mm, std::uint64_t addr, std::uint64_t ptep, Desc pte) {
    // Linux: only try when both VA and PA are the last page of a naturally aligned block:
    // core mm mostly fills ranges from low to high, so this is likely the last store of the
    // block. The any-entry policy tries at every entry whose PFN sits at the same place in
    // its group as the VA in its block (the only entries a fold could use). Special mappings
    // have no folio and are never folded.
    const FoldPolicy policy = m_config.fold_policy;
    if (policy == FoldPolicy::Never) return;
    const std::uint64_t contmask = m_geo.cont_ptes() - 1;
    const std::uint64_t vidx = (addr >> m_geo.page_shift) & contmask;
    const std::uint64_t pidx = pte_pfn(pte) & contmask;
    const bool candidate = policy == FoldPolicy::AnyEntry ? vidx == pidx : vidx == contmask && pidx == contmask;
    if (candidate && arch::desc_valid(pte) && !arch::desc_cont(pte) && !arch::desc_special(pte))
        __contpte_try_fold(mm, addr, ptep, pte);
}

void Pgtable::contpte_try_unfold(const Mm& mm, std::uint64_t addr, std::uint64_t ptep, Desc pte) {
    if (arch::desc_valid_cont(pte)) __contpte_try_unfold(mm, addr, ptep, pte);
}

void Pgtable::contpte_try_unfold_partial(const Mm& mm, std::uint64_t addr, std::uint64_t ptep, unsigned nr) {
    // Unfold a block that the batch covers only in part, at its start and at its end.
    if (ptep != contpte_align_down(ptep) || nr < m_geo.cont_ptes()) contpte_try_unfold(mm, addr, ptep, __ptep_get(ptep));
    const std::uint64_t end_ptep = ptep + 8 * std::uint64_t{nr};
    if (end_ptep != contpte_align_down(end_ptep)) {
        const std::uint64_t last_addr = addr + (std::uint64_t{nr} - 1) * m_geo.page_size();
        const std::uint64_t last_ptep = end_ptep - 8;
        contpte_try_unfold(mm, last_addr, last_ptep, __ptep_get(last_ptep));
    }
}

std::uint64_t Pgtable::contpte_align_addr_ptep(std::uint64_t& start, std::uint64_t& end, std::uint64_t ptep, unsigned nr) {
    if (arch::desc_cont(__ptep_get(ptep + 8 * (std::uint64_t{nr} - 1))))
        end = (end + m_geo.cont_pte_size() - 1) & ~(m_geo.cont_pte_size() - 1);
    if (arch::desc_cont(__ptep_get(ptep))) {
        start &= ~(m_geo.cont_pte_size() - 1);
        ptep = contpte_align_down(ptep);
    }
    return ptep;
}

bool Pgtable::contpte_test_and_clear_young_ptes(const Mm& /*mm*/, std::uint64_t addr, std::uint64_t ptep, unsigned nr) {
    // Core mm tracks access per folio, and a block is one folio: clearing young over the
    // whole block avoids an unfold.
    bool young = false;
    if (!m_config.version.is_current()) {
        // v6.9-v6.19: contpte_ptep_test_and_clear_young, always the one block.
        std::uint64_t p = contpte_align_down(ptep);
        for (unsigned i = 0; i < m_geo.cont_ptes(); ++i, p += 8) young |= __ptep_test_and_clear_young(p);
        return young;
    }
    std::uint64_t start = addr, end = addr + std::uint64_t{nr} * m_geo.page_size();
    std::uint64_t p = contpte_align_addr_ptep(start, end, ptep, nr);
    for (; start != end; start += m_geo.page_size(), p += 8) young |= __ptep_test_and_clear_young(p);
    return young;
}

bool Pgtable::contpte_clear_flush_young_ptes(const Mm& mm, std::uint64_t addr, std::uint64_t ptep, unsigned nr) {
    const bool young = contpte_test_and_clear_young_ptes(mm, addr, ptep, nr);
    if (!young) return false;
    // Without the trailing DSB, as for one page.
    std::uint64_t start = addr, end = addr + std::uint64_t{nr} * m_geo.page_size();
    if (!m_config.version.is_current()) {
        start = addr & ~(m_geo.cont_pte_size() - 1);
        end = start + m_geo.cont_pte_size();
    } else {
        (void)contpte_align_addr_ptep(start, end, ptep, nr);
    }
    m_flush.flush_tlb_range(mm, start, end, m_geo.page_size(), TlbFlush::RangeFlags{true, 3, false, false});
    return true;
}

void Pgtable::contpte_clear_young_dirty_ptes(const Mm& /*mm*/, std::uint64_t addr, std::uint64_t ptep, unsigned nr,
                                             unsigned flags) {
    // Access and dirty state are per folio for core mm: widening to whole blocks is safe and
    // needs no unfold.
    std::uint64_t start = addr, end = addr + std::uint64_t{nr} * m_geo.page_size();
    const std::uint64_t p = contpte_align_addr_ptep(start, end, ptep, nr);
    __clear_young_dirty_ptes(p, static_cast<unsigned>((end - start) >> m_geo.page_shift), flags);
}

int Pgtable::contpte_ptep_set_access_flags(const Mm& mm, std::uint64_t addr, std::uint64_t ptep, Desc entry, bool dirty) {
    Desc orig;
    if (m_config.version.is_current()) {
        // 2026: compare the raw AF/DIRTY/WRITE/RDONLY of every entry, so that a walker
        // without hardware updates does not keep faulting on a sibling's gathered state.
        const Desc mask = kRdonly | kAf | kDbm | kSwDirty;
        bool all_match = true;
        std::uint64_t p = contpte_align_down(ptep);
        for (unsigned i = 0; i < m_geo.cont_ptes(); ++i, p += 8) {
            if ((__ptep_get(p) & mask) != (entry & mask)) {
                all_match = false;
                break;
            }
        }
        if (all_match) return 0;
        orig = pte_mknoncont(__ptep_get(ptep));
    } else {
        // Gather A/D over the block; nothing to do if that already equals the request.
        orig = pte_mknoncont(ptep_get(ptep));
        if (orig == entry) return 0;
    }
    if (arch::desc_write(orig) == arch::desc_write(entry)) {
        // Access/dirty fix-ups need no unfold: update all N entries (software AF management
        // would otherwise fault on each), then one flush of the block for a dirty update.
        std::uint64_t p = contpte_align_down(ptep);
        const std::uint64_t start = addr & ~(m_geo.cont_pte_size() - 1);
        for (unsigned i = 0; i < m_geo.cont_ptes(); ++i, p += 8)
            (void)__ptep_set_access_flags(mm, start + i * m_geo.page_size(), p, entry, false);
        if (dirty) {
            if (m_config.version.at_least(6, 19)) m_flush.local_flush_tlb_contpte(mm, start);
            else m_flush.flush_tlb_range(mm, start, start + m_geo.cont_pte_size(), m_geo.page_size(), true, 3);
        }
    } else {
        // Write permission granted to one entry: the block must be unfolded first.
        __contpte_try_unfold(mm, addr, ptep, orig);
        (void)__ptep_set_access_flags(mm, addr, ptep, entry, dirty);
    }
    return 1;
}

bool Pgtable::folio_covers_block(std::uint64_t addr, std::uint64_t pfn) const {
    // Computed from the page's place in its folio, without reading any entry.
    const std::optional<Folio> folio = m_folios.folio_of(pfn);
    if (!folio) return false;
    const std::uint64_t folio_start = addr - (pfn - folio->head_pfn) * m_geo.page_size();
    const std::uint64_t folio_end = folio_start + folio->nr_pages() * m_geo.page_size();
    const std::uint64_t cont_start = addr & ~(m_geo.cont_pte_size() - 1);
    return folio_start <= cont_start && folio_end >= cont_start + m_geo.cont_pte_size();
}

unsigned Pgtable::block_entries_match(std::uint64_t block_ptep, unsigned from, Desc expected, bool& match) {
    // Consecutive PFNs and the same attributes once access/dirty state is ignored; reading
    // stops at the first entry that differs.
    unsigned read = 0;
    for (unsigned i = from; i < m_geo.cont_ptes(); ++i) {
        ++read;
        if (arch::desc_normalise_ad(__ptep_get(block_ptep + 8 * std::uint64_t{i})) != expected) {
            match = false;
            return read;
        }
        expected = pfn_pte(pte_pfn(expected) + 1, expected);
    }
    match = true;
    return read;
}

void Pgtable::__contpte_try_fold(const Mm& mm, std::uint64_t addr, std::uint64_t ptep, Desc pte) {
    // Kernel and EFI mappings manage PTE_CONT themselves (§5.1).
    if (!mm.user) return;
    ++m_stats.fold_attempts;
    // The folio must cover the whole block, then every entry must be the expected one, from
    // the aligned first PFN.
    const std::uint64_t pfn = pte_pfn(pte);
    if (!folio_covers_block(addr, pfn)) return;
    bool match = false;
    (void)block_entries_match(contpte_align_down(ptep), 0,
                              pfn_pte(pfn & ~std::uint64_t{m_geo.cont_ptes() - 1}, normalised_prot(pte)), match);
    if (!match) return;
    ++m_stats.folds;
    contpte_convert(mm, addr, ptep, pte_mkcont(pte));
}

unsigned Pgtable::contpte_scan_block(const Mm& mm, std::uint64_t addr, std::uint64_t ptep, bool& folded) {
    folded = false;
    const Desc first = __ptep_get(ptep);
    // Only a valid, not yet folded entry whose PFN starts an aligned group can begin a block.
    if (!mm.user || !arch::desc_valid(first) || arch::desc_cont(first) || arch::desc_special(first) ||
        (pte_pfn(first) & (m_geo.cont_ptes() - 1)) != 0 || !folio_covers_block(addr, pte_pfn(first)))
        return 1;
    bool match = false;
    const unsigned read = 1 + block_entries_match(ptep, 1, pfn_pte(pte_pfn(first) + 1, normalised_prot(first)), match);
    if (!match) return read;
    ++m_stats.folds;
    folded = true;
    contpte_convert(mm, addr, ptep, pte_mkcont(first));
    return read;
}

void Pgtable::__contpte_try_unfold(const Mm& mm, std::uint64_t addr, std::uint64_t ptep, Desc pte) {
    // Kernel mappings never unfold automatically; the caller manages the block (§5.1).
    if (!mm.user) return;
    ++m_stats.unfolds;
    contpte_convert(mm, addr, ptep, pte_mknoncont(pte));
}

void Pgtable::contpte_convert(const Mm& mm, std::uint64_t addr, std::uint64_t ptep, Desc pte) {
    // Every path that sets or clears PTE_CONT on user entries ends here or in
    // contpte_set_ptes; neither exists in a kernel built without CONFIG_ARM64_CONTPTE.
    if (!contpte_enabled()) throw std::logic_error("contpte_convert called with kernel.contpte false");
    ++m_stats.converts;
    static const auto log = logger("kernel");
    log->debug("contpte_convert: {} the block at VA {:#x}", arch::desc_cont(pte) ? "fold" : "unfold",
               addr & ~(m_geo.cont_pte_size() - 1));
    const unsigned n = m_geo.cont_ptes();
    const std::uint64_t start_ptep = contpte_align_down(ptep);
    const std::uint64_t start_addr = addr & ~(m_geo.cont_pte_size() - 1);
    const TimelineSpan span(m_flush.timeline(), arch::desc_cont(pte) ? "fold" : "unfold", {TimelineArg::hex("va", start_addr)});
    pte = pfn_pte(pte_pfn(pte) & ~std::uint64_t{n - 1}, pte);

    // Break: clear every entry, collecting the block-wide access and dirty state.
    for (unsigned i = 0; i < n; ++i) {
        const Desc ptent = __ptep_get_and_clear(start_ptep + 8 * i);
        if (arch::desc_dirty(ptent)) pte = arch::desc_mkdirty(pte);
        if (arch::desc_young(ptent)) pte = arch::desc_mkyoung(pte);
    }
    // With BBML2_NOABORT (v6.17+) the architecture tolerates both sizes in the TLB at once,
    // so the invalidation is left to the caller's own later TLBI.
    const bool skip_tlbi = m_config.bbml2_noabort && m_config.version.at_least(6, 17);
    if (!skip_tlbi)
        m_flush.flush_tlb_range(mm, start_addr, start_addr + m_geo.cont_pte_size(), m_geo.page_size(), true, 3);
    // Make: rewrite the block with the new contiguity.
    if (!m_flush.observed() || !mm.user) {
        __set_ptes(mm, start_addr, start_ptep, pte, n);
        return;
    }
    // Multi-core: the other cores may look at the block between two stores (a lockless
    // reader then finds a folded target whose later siblings are still clear, and retries).
    for (unsigned i = 0; i < n; ++i) {
        __set_ptes(mm, start_addr + (std::uint64_t{i} << m_geo.page_shift), start_ptep + 8 * i, pfn_pte(pte_pfn(pte) + i, pte), 1);
        if (i + 1 < n) m_flush.observable_point();
    }
}

void Pgtable::contpte_set_ptes(const Mm& mm, std::uint64_t addr, std::uint64_t ptep, Desc pte, unsigned nr) {
    // set_ptes(nr > 1) is only called on none entries, so nothing needs unfolding.
    if (!contpte_enabled()) throw std::logic_error("contpte_set_ptes called with kernel.contpte false");
    if (!mm.user) {
        __set_ptes(mm, addr, ptep, pte, nr);
        return;
    }
    const std::uint64_t end = addr + (std::uint64_t{nr} << m_geo.page_shift);
    std::uint64_t pfn = pte_pfn(pte);
    const std::uint64_t cont_mask = m_geo.cont_pte_size() - 1;
    do {
        const std::uint64_t boundary = (addr + m_geo.cont_pte_size()) & ~cont_mask;
        const std::uint64_t next = boundary < end ? boundary : end;
        const unsigned chunk = static_cast<unsigned>((next - addr) >> m_geo.page_shift);
        // A chunk is contiguous only when it is a whole block, VA and PA aligned.
        const bool whole = ((addr | next | (pfn << m_geo.page_shift)) & cont_mask) == 0;
        const Desc value = whole ? pte_mkcont(pfn_pte(pfn, pte)) : pte_mknoncont(pfn_pte(pfn, pte));
        if (whole) ++m_stats.blocks_mapped_cont;
        __set_ptes(mm, addr, ptep, value, chunk);
        // after-batch: a chunk that leaves its block partly written may have completed a
        // block whose other entries were set earlier; try the fold from the chunk's last
        // entry, as if it had been stored alone.
        if (!whole && m_config.fold_policy == FoldPolicy::AfterBatch) {
            const std::uint64_t last_addr = next - m_geo.page_size();
            const Desc last = pfn_pte(pfn + chunk - 1, value);
            const std::uint64_t contmask = m_geo.cont_ptes() - 1;
            if ((((last_addr >> m_geo.page_shift) ^ pte_pfn(last)) & contmask) == 0 && arch::desc_valid(last) &&
                !arch::desc_special(last))
                __contpte_try_fold(mm, last_addr, ptep + 8 * (std::uint64_t{chunk} - 1), last);
        }
        addr = next;
        ptep += 8 * std::uint64_t{chunk};
        pfn += chunk;
    } while (addr != end);
}

Desc Pgtable::contpte_ptep_get(std::uint64_t ptep, Desc orig_pte) {
    // Hardware may have set AF or dirtied any single entry: gather them over the block.
    // The PTE lock is held, so the block cannot change underneath.
    const unsigned n = m_geo.cont_ptes();
    const bool early_exit = m_config.version.at_least(6, 17);
    std::uint64_t p = contpte_align_down(ptep);
    for (unsigned i = 0; i < n; ++i, p += 8) {
        const Desc pte = __ptep_get(p);
        if (early_exit && arch::desc_dirty(pte)) {
            // v6.17: from this entry on (re-read), look only for a young one.
            orig_pte = arch::desc_mkdirty(orig_pte);
            for (; i < n; ++i, p += 8) {
                if (arch::desc_young(__ptep_get(p))) {
                    orig_pte = arch::desc_mkyoung(orig_pte);
                    break;
                }
            }
            break;
        }
        if (early_exit && arch::desc_young(pte)) {
            // v6.17: after this entry, look only for a dirty one.
            orig_pte = arch::desc_mkyoung(orig_pte);
            for (++i, p += 8; i < n; ++i, p += 8) {
                if (arch::desc_dirty(__ptep_get(p))) {
                    orig_pte = arch::desc_mkdirty(orig_pte);
                    break;
                }
            }
            break;
        }
        if (arch::desc_dirty(pte)) orig_pte = arch::desc_mkdirty(orig_pte);
        if (arch::desc_young(pte)) orig_pte = arch::desc_mkyoung(orig_pte);
    }
    return orig_pte;
}

Desc Pgtable::contpte_ptep_get_lockless(std::uint64_t orig_ptep) {
    // Without the PTE lock a convert may be in flight: start again from re-reading the target
    // whenever an entry does not belong to one consistent folded block (valid, CONT, the
    // expected PFN, the same attributes ignoring A/D). Only another core's convert can cause
    // that, so a bounded number of restarts is plenty; more means corrupt tables.
    const unsigned n = m_geo.cont_ptes();
    const bool early_exit = m_config.version.at_least(6, 17);
    for (unsigned attempt = 0; attempt < 1024; ++attempt) {
        Desc orig_pte = __ptep_get(orig_ptep);
        if (!arch::desc_valid_cont(orig_pte)) return orig_pte;
        const Desc orig_prot = normalised_prot(orig_pte);
        std::uint64_t p = contpte_align_down(orig_ptep);
        std::uint64_t pfn = pte_pfn(orig_pte) - (orig_ptep - p) / 8;
        const auto consistent = [&](Desc pte) { return block_entry_consistent(pte, pfn, orig_prot); };
        bool retry = false;
        for (unsigned i = 0; i < n; ++i, p += 8, ++pfn) {
            const Desc pte = __ptep_get(p);
            if (!consistent(pte)) { retry = true; break; }
            if (early_exit && arch::desc_dirty(pte)) {
                // v6.17: from this entry on (re-read), look only for a young one.
                orig_pte = arch::desc_mkdirty(orig_pte);
                for (; i < n; ++i, p += 8, ++pfn) {
                    const Desc q = __ptep_get(p);
                    if (!consistent(q)) { retry = true; break; }
                    if (arch::desc_young(q)) { orig_pte = arch::desc_mkyoung(orig_pte); break; }
                }
                break;
            }
            if (early_exit && arch::desc_young(pte)) {
                // v6.17: after this entry, look only for a dirty one.
                orig_pte = arch::desc_mkyoung(orig_pte);
                for (++i, p += 8, ++pfn; i < n; ++i, p += 8, ++pfn) {
                    const Desc q = __ptep_get(p);
                    if (!consistent(q)) { retry = true; break; }
                    if (arch::desc_dirty(q)) { orig_pte = arch::desc_mkdirty(orig_pte); break; }
                }
                break;
            }
            if (arch::desc_dirty(pte)) orig_pte = arch::desc_mkdirty(orig_pte);
            if (arch::desc_young(pte)) orig_pte = arch::desc_mkyoung(orig_pte);
        }
        if (!retry) return orig_pte;
    }
    throw std::logic_error("ptep_get_lockless: a folded block never became consistent");
}

Pgtable::LocklessView Pgtable::lockless_view(std::uint64_t ptep) {
    const Desc target = m_mem.peek(ptep);
    if (target == 0) return LocklessView::None;
    if (!contpte_enabled() || !arch::desc_valid_cont(target)) return LocklessView::Single;
    const Desc prot = normalised_prot(target);
    std::uint64_t p = contpte_align_down(ptep);
    std::uint64_t pfn = pte_pfn(target) - (ptep - p) / 8;
    for (unsigned i = 0; i < m_geo.cont_ptes(); ++i, p += 8, ++pfn) {
        const Desc pte = m_mem.peek(p);
        if (!block_entry_consistent(pte, pfn, prot)) return LocklessView::Inconsistent;
    }
    return LocklessView::Consistent;
}

}  // namespace mmusim::kernel
