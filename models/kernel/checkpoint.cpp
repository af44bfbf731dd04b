#include "models/kernel/checkpoint.h"

#include "models/arch/granule.h"
#include "models/kernel/kernel.h"
#include "models/kernel/pte.h"

namespace mmusim::kernel {

const char* entry_kind_name(EntryKind kind) {
    switch (kind) {
        case EntryKind::None: return "none";
        case EntryKind::Page: return "page";
        case EntryKind::Swap: return "swap";
        case EntryKind::Migration: return "migration";
        case EntryKind::Marker: return "marker";
    }
    return "?";
}

const char* write_state_name(WriteState state) {
    switch (state) {
        case WriteState::ReadOnly: return "ro";
        case WriteState::Clean: return "clean";
        case WriteState::Dirty: return "dirty";
    }
    return "?";
}

PageState decode_leaf(arch::Desc d, unsigned level) {
    using namespace pte_bits;
    PageState s;
    s.pte = d;
    s.level = level;
    if (d == 0) return s;
    if (!pte_present(d)) {
        // Not present and not none: a swap-format entry (pte_to_swp_entry). The uffd-wp
        // marker is the one PTE marker the model makes.
        s.entry = is_migration_entry(d)                                     ? EntryKind::Migration
                  : (d & kSwapTypeMask) == (kMarkerUffdWp & kSwapTypeMask) ? EntryKind::Marker
                                                                           : EntryKind::Swap;
        return s;
    }
    s.entry = EntryKind::Page;
    s.prot_none = pte_protnone(d);
    // pte_write() is PTE_WRITE (DBM); pte_hw_dirty() is PTE_WRITE with AP[2] clear.
    s.write = !arch::desc_write(d) ? WriteState::ReadOnly : arch::desc_rdonly(d) ? WriteState::Clean : WriteState::Dirty;
    s.af = arch::desc_young(d);
    s.exec = pte_user_exec(d);
    s.special = arch::desc_special(d);
    s.uffd_wp = pte_uffd_wp(d);
    s.cont = level == 3 && arch::desc_cont(d);
    return s;
}

void CheckpointLog::record(Kernel& kernel, unsigned op) {
    const arch::Geometry& geo = arch::geometry(kernel.config().granule);
    const KernelStats& stats = kernel.stats();
    Checkpoint c;
    c.op = op;
    c.counters.faults = stats.faults_total;
    c.counters.anon_fault_alloc = stats.anon_fault_alloc_by_size;
    c.counters.anon_fault_fallback = stats.alloc_fallbacks_by_size;
    c.counters.split = stats.folio_splits;
    for (const auto& [id, mm] : kernel.processes()) {
        CheckpointProcess p;
        p.id = id;
        for (unsigned r = 0; r < m_regions.size(); ++r) {
            const CheckpointRegion& region = m_regions[r];
            const std::uint64_t first = region.addr & ~(geo.page_size() - 1);
            for (std::uint64_t va = first; va < region.addr + region.size; va += geo.page_size()) {
                const Kernel::Leaf leaf = kernel.peek_leaf(*mm, va);
                PageState s = decode_leaf(leaf.desc, leaf.level);
                s.va = va;
                s.region = r;
                if (s.entry == EntryKind::Page) {
                    // The page of a block is its PFN plus the page's offset in the block.
                    const std::uint64_t pfn = arch::desc_pfn(leaf.desc, geo.page_shift) +
                                              ((va & (geo.level_size(leaf.level) - 1)) >> geo.page_shift);
                    const bool zero = leaf.level == 3 ? pfn == kernel.zero_pfn()
                                                      : kernel.huge_zero_pfn() != 0 &&
                                                            arch::desc_pfn(leaf.desc, geo.page_shift) == kernel.huge_zero_pfn();
                    s.zero = zero;
                    if (!zero) {
                        if (const std::optional<Folio> f = kernel.folios().folio_of(pfn)) {
                            s.folio_size = f->nr_pages() << geo.page_shift;
                            s.folio_index = pfn - f->head_pfn;
                        }
                    }
                }
                p.pages.push_back(s);
            }
        }
        c.processes.push_back(std::move(p));
    }
    m_taken.push_back(std::move(c));
}

}  // namespace mmusim::kernel
