#include "models/kernel/fault.h"

#include <algorithm>
#include <sstream>

#include "models/arch/descriptor.h"
#include "models/common/cycles.h"
#include "models/kernel/kernel_error.h"
#include "models/kernel/pte.h"

namespace mmusim::kernel {

using namespace arch::bits;

FaultHandler::FaultHandler(KernelContext& k, PageAlloc& pages, MmOps& ops) : m_k(k), m_pages(pages), m_ops(ops) {}

std::string FaultHandler::describe(const FaultRequest& f) const {
    std::ostringstream os;
    os << arch::access_name(f.access) << " " << arch::fault_kind_name(f.kind) << " fault at VA 0x" << std::hex << f.va;
    return os.str();
}

namespace {
// The kind of the faulting VMA, in the context for as long as the fault is handled (an
// exception included), so that its folio allocations are counted under it.
class FaultClassScope {
public:
    FaultClassScope(VmaClass& slot, VmaClass c) : m_slot(slot) { m_slot = c; }
    ~FaultClassScope() { m_slot = VmaClass::Count; }
    FaultClassScope(const FaultClassScope&) = delete;
    FaultClassScope& operator=(const FaultClassScope&) = delete;

private:
    VmaClass& m_slot;
};
}  // namespace

const char* FaultHandler::handle_mm_fault(Mm& mm, const FaultRequest& fault) {
    Vma* vma = mm.find_vma(fault.va);
    // Below the stack: lock_mm_and_find_vma grows it (expand_stack) when it may.
    if (vma == nullptr && m_ops.expand_stack(mm, fault.va)) vma = mm.find_vma(fault.va);
    if (vma == nullptr)
        throw SegvError("SIGSEGV: " + describe(fault) + " is outside every mapping of the process");
    // Statistics by kind of mapping: a fault in a VMA counts under its kind, whether or not it
    // ends in a signal.
    const FaultClassScope fault_class(m_k.fault_class, vma->vma_class());
    ++m_k.stats.by_vma[static_cast<std::size_t>(vma->vma_class())].faults;
    const bool allowed = fault.access == arch::Access::Store    ? vma->flags.write
                         : fault.access == arch::Access::Ifetch ? vma->flags.exec
                                                                : vma->flags.read;
    if (!allowed) throw SegvError("SIGSEGV: " + describe(fault) + " is not permitted by the mapping " + vma->name);
    if (fault.kind == arch::FaultKind::TlbConflict)
        throw KernelError("TLB conflict abort: " + describe(fault) + " (the process is killed)");

    VmFault vmf{};
    vmf.mm = &mm;
    vmf.vma = vma;
    vmf.address = fault.va & ~(m_k.geo.page_size() - 1);
    vmf.write = fault.access == arch::Access::Store;
    vmf.exec = fault.access == arch::Access::Ifetch;
    // do_anonymous_page maps the shared zero page for any fault that is not a write: a load,
    // and an instruction fetch too (FAULT_FLAG_INSTRUCTION is no write). Where the model
    // stands anonymous memory in for code (layout "auto", and kernel.exec_folios, code read
    // ahead into the page cache) a fetch populates the page instead.
    const bool code = vma->holds_code || m_k.config.exec_folio_order >= 0;
    vmf.use_zero_page = m_k.config.zero_page && (fault.access == arch::Access::Load || (vmf.exec && !code));

    vmf.pmd = m_k.tables.pmd_alloc(mm, vmf.address);
    const arch::Desc pmdval = m_k.tables.pmd_read(vmf.pmd);
    if (vma->kind == VmaKind::HugePfnmap) {
        if (const char* path = handle_huge_pfnmap(vmf, pmdval); path != nullptr) return path;
    } else if (pmdval == 0 && m_ops.thp_allowed(*vma, vmf.address)) {
        // create_huge_pmd; a null path is VM_FAULT_FALLBACK to the PTE level.
        if (const char* path = do_huge_pmd_anonymous_page(vmf); path != nullptr) return path;
    } else if (MmOps::pmd_leaf(pmdval)) {
        const char* path = vmf.write && !arch::desc_write(pmdval) ? do_huge_pmd_wp_page(vmf, pmdval)
                                                                  : huge_pmd_set_accessed(vmf, pmdval);
        if (path != nullptr) return path;
    }
    return handle_pte_fault(vmf);
}

const char* FaultHandler::handle_huge_pfnmap(VmFault& vmf, arch::Desc pmdval) {
    const Vma& vma = *vmf.vma;
    const std::uint64_t pmd_size = m_k.geo.pmd_size();
    const std::uint64_t haddr = vmf.address & ~(pmd_size - 1);
    if (arch::desc_valid(pmdval) && !arch::desc_is_table_or_page(pmdval)) {
        // A leaf is there. A read (an old entry) is __handle_mm_fault's touch of the leaf; a
        // write to the read-only leaf goes to the driver, whose insert_pfn_pmd finds the same
        // PFN and upgrades it with pmdp_set_access_flags(dirty), flush included.
        if (!vmf.write) return huge_pmd_set_accessed(vmf, pmdval);
        const arch::Desc up = arch::desc_mkwrite(arch::desc_mkdirty(arch::desc_mkyoung(pmdval)));
        (void)pmdp_set_access_flags(*vmf.mm, haddr, vmf.pmd, up, true);
        return "pfnmap_huge_upgrade";
    }
    if (pmdval != 0 || haddr < vma.start || haddr + pmd_size > vma.end) return nullptr;
    // vmf_insert_pfn_pmd: one special leaf under the PMD lock; none -> valid needs no TLBI.
    const std::uint64_t pfn = vma.pgoff + ((haddr - vma.start) >> m_k.geo.page_shift);
    arch::Desc leaf = (arch::desc_with_pfn(vma.page_prot, pfn, m_k.geo.page_shift) & ~kType) | kSwSpecial;
    if (vmf.write) leaf = arch::desc_mkwrite(arch::desc_mkdirty(arch::desc_mkyoung(leaf)));
    m_k.tables.set_pmd_at(vmf.pmd, leaf);
    ++m_k.stats.huge_pmd_mapped;
    return "pfnmap_huge";
}

const char* FaultHandler::handle_pte_fault(VmFault& vmf) {
    const std::uint64_t table = m_k.tables.pte_table(vmf.pmd);
    if (table != 0) {
        vmf.pte = m_k.tables.pte_offset(table, vmf.address);
        vmf.orig_pte = m_k.pgtable.ptep_get_lockless(vmf.pte);
        vmf.orig_pte_valid = true;
        if (vmf.orig_pte == 0) vmf.pte = 0;  // pte_none: treat as missing
    }
    if (vmf.pte == 0) {
        switch (vmf.vma->kind) {
            case VmaKind::Anon: return do_anonymous_page(vmf);
            case VmaKind::File: return do_fault(vmf);
            case VmaKind::HugePfnmap: return do_pfn_fault(vmf);
            case VmaKind::Pfnmap: break;
        }
        throw KernelError("SIGBUS: access to VA " + hex(vmf.address) + " of the pfn map " + vmf.vma->name +
                          ", whose driver has no page there");
    }
    if (pte_marker_uffd_wp(vmf.orig_pte)) {
        // A uffd-wp marker: without uffd-wp on the VMA any more it is just dropped;
        // otherwise the page is mapped (order 0) with the protection kept.
        if (!vmf.vma->flags.uffd_wp) {
            m_k.pgtable.pte_clear(*vmf.mm, vmf.address, vmf.pte);
            return "marker_cleared";
        }
        vmf.uffd_wp_marker = true;
        return vmf.vma->kind == VmaKind::File ? do_fault(vmf) : do_anonymous_page(vmf);
    }
    if (pte_protnone(vmf.orig_pte)) return do_numa_page(vmf);
    if (is_migration_entry(vmf.orig_pte)) return migration_entry_wait(vmf);
    if (is_swap_entry(vmf.orig_pte)) return do_swap_page(vmf);
    if (!arch::desc_valid(vmf.orig_pte))
        throw KernelError("fault on the non-present entry " + hex(vmf.orig_pte) + " at VA " + hex(vmf.address) +
                          ", which no modelled path writes (a model error)");

    // Under the PTE lock: re-check that the entry did not change.
    if (!pte_same(m_k.pgtable.ptep_get(vmf.pte), vmf.orig_pte)) return "raced";
    arch::Desc entry = vmf.orig_pte;
    if (vmf.write) {
        if (!arch::desc_write(entry)) return do_wp_page(vmf);
        entry = arch::desc_mkdirty(entry);
    }
    entry = arch::desc_mkyoung(entry);
    if (m_k.pgtable.ptep_set_access_flags(*vmf.mm, vmf.address, vmf.pte, entry, vmf.write) != 0)
        return vmf.write ? "dirty_fixup" : "access_flag";
    // Spurious: the entry already allowed the access (another CPU fixed it, or a stale TLB
    // entry). From v6.19 a write also drops this CPU's stale entry.
    if (vmf.write && m_k.config.version.at_least(6, 19)) m_k.flush.local_flush_tlb_page(*vmf.mm, vmf.address);
    return "spurious";
}

const char* FaultHandler::do_anonymous_page(VmFault& vmf) {
    Mm& mm = *vmf.mm;
    Vma& vma = *vmf.vma;
    const std::uint64_t table = m_k.tables.pte_alloc(vmf.pmd);
    if (vmf.use_zero_page && !vmf.uffd_wp_marker && !vma.flags.uffd_missing) {
        // Read fault: map the shared zero page, special, read-only.
        arch::Desc entry = arch::desc_with_pfn(vma.page_prot, m_k.zero_pfn, m_k.geo.page_shift) | kSwSpecial;
        entry &= ~kDbm;
        vmf.pte = m_k.tables.pte_offset(table, vmf.address);
        if (vmf_pte_changed(vmf)) return "raced";
        m_k.pgtable.set_ptes(mm, vmf.address, vmf.pte, entry, 1);
        return "anon_zero_page";
    }
    if (vma.flags.uffd_missing && !vmf.uffd_wp_marker) {
        // handle_userfault(VM_UFFD_MISSING): the monitor answers with UFFDIO_COPY of one
        // page (mfill_atomic_pte_copy: a new page, set_pte_at).
        const Folio folio = m_pages.alloc(0, false, true);
        arch::Desc entry = arch::desc_with_pfn(vma.page_prot, folio.head_pfn, m_k.geo.page_shift);
        if (vma.flags.write) entry = arch::desc_mkwrite(arch::desc_mkdirty(entry));
        vmf.pte = m_k.tables.pte_offset(table, vmf.address);
        vma.anon_vma = true;  // mfill_atomic: anon_vma_prepare of a private VMA
        m_k.pgtable.set_pte_at(mm, vmf.address, vmf.pte, entry);
        m_k.rmap.add(folio.head_pfn, mm.id, 1);
        ++m_k.stats.uffd_events;
        return "uffd_missing_copy";
    }

    // mm/memory.c do_anonymous_page maps the zero page (above) before it prepares the
    // anon_vma (vmf_anon_prepare, anon_vma_prepare before v6.9), so a VMA that was only
    // read has none and fork (copy_page_range / vma_needs_copy) skips its tables.
    vma.anon_vma = true;
    const Folio folio = alloc_anon_folio(vmf, table);
    const unsigned nr_pages = static_cast<unsigned>(folio.nr_pages());
    const std::uint64_t addr = vmf.address & ~((m_k.geo.page_size() << folio.order) - 1);
    arch::Desc entry = arch::desc_with_pfn(vma.page_prot, folio.head_pfn, m_k.geo.page_shift);
    if (vma.flags.write) entry = arch::desc_mkwrite(arch::desc_mkdirty(entry));
    if (vmf.uffd_wp_marker) entry = pte_mkuffd_wp(entry);

    // Under the PTE lock: the entry (or the whole range) must still be what was seen.
    vmf.pte = m_k.tables.pte_offset(table, addr);
    const bool changed = nr_pages == 1 ? vmf_pte_changed(vmf) : !pte_range_none(vmf.pte, nr_pages);
    if (changed) {
        m_pages.free(folio);
        return "raced";
    }
    m_k.pgtable.set_ptes(mm, addr, vmf.pte, entry, nr_pages);
    m_k.rmap.add(folio.head_pfn, mm.id, nr_pages);
    return folio.order == 0 ? "anon_folio_order0" : "anon_folio_large";
}

bool FaultHandler::pte_range_none(std::uint64_t ptep, unsigned nr) {
    for (unsigned i = 0; i < nr; ++i)
        if (m_k.pgtable.ptep_get_lockless(ptep + 8 * i) != 0) return false;
    return true;
}

bool FaultHandler::vmf_pte_changed(VmFault& vmf) {
    const arch::Desc now = m_k.pgtable.ptep_get(vmf.pte);
    if (vmf.orig_pte_valid) return !pte_same(now, vmf.orig_pte);
    return now != 0;
}

Folio FaultHandler::alloc_anon_folio(VmFault& vmf, std::uint64_t pte_table) {
    // A uffd-armed VMA takes order 0 only: the monitor handles single pages.
    std::vector<unsigned> orders;
    if (!vmf.vma->uffd_armed() && !vmf.uffd_wp_marker) {
        // thp_vma_allowable_orders (the sysfs mode of each size, MADV_HUGEPAGE and
        // MADV_NOHUGEPAGE), then thp_vma_suitable_orders: orders whose naturally aligned
        // range lies inside the VMA, highest first. An instruction fetch with
        // kernel.exec_folios set stands for code read in by exec_folio_order readahead (page
        // cache, not governed by the anonymous sysfs modes): that order first, then the
        // allowed ones below it.
        const int exec = vmf.exec ? m_k.config.exec_folio_order : -1;
        const std::uint64_t allowed = m_ops.thp_vma_allowable_orders(*vmf.vma);
        std::vector<unsigned> candidates;
        if (exec > 0) candidates.push_back(static_cast<unsigned>(exec));
        for (unsigned order = m_k.geo.bits_per_level; order-- > 1;)
            if ((allowed >> order & 1) != 0 && (exec < 0 || order < static_cast<unsigned>(exec))) candidates.push_back(order);
        for (const unsigned order : candidates) {
            const std::uint64_t size = m_k.geo.page_size() << order;
            const std::uint64_t start = vmf.address & ~(size - 1);
            if (start >= vmf.vma->start && start + size <= vmf.vma->end) orders.push_back(order);
        }
    }
    // The highest order whose aligned range is all none (read locklessly, stopping at the
    // first entry that is not); every lower order is then all none too.
    std::size_t k = 0;
    for (; k < orders.size(); ++k) {
        const std::uint64_t size = m_k.geo.page_size() << orders[k];
        if (pte_range_none(m_k.tables.pte_offset(pte_table, vmf.address & ~(size - 1)), 1u << orders[k])) break;
    }
    // Allocate the highest remaining order, falling back order by order when the allocator
    // has no free block that large; order 0 is the last resort.
    for (; k < orders.size(); ++k)
        if (const std::optional<Folio> f = m_pages.try_alloc_fallible(orders[k], true, true)) {
            ++m_k.stats.anon_fault_alloc_by_size[f->nr_pages() << m_k.geo.page_shift];  // MTHP_STAT_ANON_FAULT_ALLOC
            return *f;
        }
    return m_pages.alloc(0, true, true);
}

// ---- file-backed faults -------------------------------------------------------------------

Folio FaultHandler::filemap_get_folio(const Vma& vma, std::uint64_t pgoff, bool& was_cached) {
    if (const Folio* f = m_k.page_cache.find(vma.file, pgoff)) {
        was_cached = true;
        return *f;
    }
    was_cached = false;
    // Read the folio in: the file's folio size, naturally aligned in the file; an executable
    // mapping reads ahead in folios of exec_folio_order (kernel.exec_folios) where none of
    // that range is cached yet.
    unsigned order = m_k.page_cache.folio_order(vma.file);
    if (vma.flags.exec && m_k.config.exec_folio_order >= 0) {
        const unsigned exec = static_cast<unsigned>(m_k.config.exec_folio_order);
        const std::uint64_t first = pgoff & ~((std::uint64_t{1} << exec) - 1);
        if (m_k.page_cache.range_empty(vma.file, first, std::uint64_t{1} << exec)) order = exec;
    }
    const Folio folio = m_pages.alloc(order, false, false);
    m_k.rmap.info(folio.head_pfn).pagecache = true;
    m_k.page_cache.insert(vma.file, pgoff & ~((std::uint64_t{1} << order) - 1), folio);
    ++m_k.stats.pagecache_reads;
    return folio;
}

const char* FaultHandler::do_fault(VmFault& vmf) {
    const Vma& vma = *vmf.vma;
    const std::uint64_t pgoff = file_pgoff(vma, vmf.address);
    if (!vmf.write) {
        // do_read_fault: map what the page cache already has around the address first.
        const bool fault_around = (m_k.config.fault_around_bytes >> m_k.geo.page_shift) > 1 && !vma.uffd_armed();
        if (fault_around && do_fault_around(vmf)) return "file_fault_around";
        bool cached = false;
        const Folio folio = filemap_get_folio(vma, pgoff, cached);
        if (!cached && vma.flags.uffd_missing) ++m_k.stats.uffd_events;  // the monitor fills the page cache
        return finish_fault(vmf, folio, pgoff, false);
    }
    bool cached = false;
    const Folio folio = filemap_get_folio(vma, pgoff, cached);
    if (!vma.flags.shared) {
        // do_cow_fault: a private copy of the file page.
        vmf.vma->anon_vma = true;
        return finish_fault(vmf, m_pages.alloc(0, false, true), pgoff, true);
    }
    // do_shared_fault: page_mkwrite, then map the file page writable.
    return finish_fault(vmf, folio, pgoff, false);
}

bool FaultHandler::do_fault_around(VmFault& vmf) {
    const Vma& vma = *vmf.vma;
    const std::uint64_t page = m_k.geo.page_size();
    const std::uint64_t window = m_k.config.fault_around_bytes;
    const std::uint64_t pmd_start = vmf.address & ~(m_k.geo.pmd_size() - 1);
    // mm/memory.c do_fault_around (PTE indices since v6.4 "mm: refactor
    // do_fault_around()"): from_pte = max(ALIGN_DOWN(pte_off, nr_pages), pte_off -
    // min(pte_off, vma_off)), the aligned window start clamped to the VMA and the table;
    // to_pte = min3(from_pte + nr_pages, PTRS_PER_PTE, VMA end): the window is counted from
    // the clamped start, so a VMA that starts inside the aligned window gets a full window.
    const std::uint64_t from = std::max({vmf.address & ~(window - 1), vma.start, pmd_start});
    const std::uint64_t to = std::min({from + window, vma.end, pmd_start + m_k.geo.pmd_size()});
    const std::uint64_t table = m_k.tables.pte_alloc(vmf.pmd);
    bool mapped_target = false;
    // filemap_map_pages: runs of consecutive cached pages of one folio whose entries are
    // none become one set_ptes each; pages other than the faulting one are mapped old when
    // the hardware manages the access flag.
    std::uint64_t a = from;
    while (a < to) {
        const Folio* folio = m_k.page_cache.find(vma.file, file_pgoff(vma, a));
        if (folio == nullptr) {
            a += page;
            continue;
        }
        const Folio f = *folio;
        // filemap_map_folio_range from v6.18 ("mm/filemap: map entire large folio
        // faultaround", 357b92761d94): a large folio that lies inside the VMA and one PTE table
        // is mapped whole, pages outside the window included; before, only its pages inside
        // the window.
        std::uint64_t end = to;
        if (f.order > 0 && m_k.config.version.at_least(6, 18)) {
            const std::uint64_t fstart = a - (file_pgoff(vma, a) & (f.nr_pages() - 1)) * page;
            const std::uint64_t fend = fstart + f.nr_pages() * page;
            const std::uint64_t pmd_mask = ~(m_k.geo.pmd_size() - 1);
            if (fstart >= vma.start && fend <= vma.end && (fstart & pmd_mask) == ((fend - 1) & pmd_mask)) {
                a = fstart;
                end = fend;
            }
        }
        std::uint64_t run_start = a;
        unsigned count = 0;
        const auto map_run = [&]() {
            if (count == 0) return;
            const bool has_target = vmf.address >= run_start && vmf.address < run_start + count * page;
            const std::uint64_t pfn = f.head_pfn + (file_pgoff(vma, run_start) & (f.nr_pages() - 1));
            arch::Desc entry = arch::desc_with_pfn(vma.page_prot, pfn, m_k.geo.page_shift);
            if (!has_target && m_k.config.hafdbs) entry = arch::desc_mkold(entry);
            m_k.pgtable.set_ptes(*vmf.mm, run_start, m_k.tables.pte_offset(table, run_start), entry, count);
            m_k.rmap.add(f.head_pfn, vmf.mm->id, count);
            mapped_target |= has_target;
            count = 0;
        };
        while (a < end) {
            const Folio* g = m_k.page_cache.find(vma.file, file_pgoff(vma, a));
            if (g == nullptr || g->head_pfn != f.head_pfn) break;
            if (m_k.pgtable.ptep_get(m_k.tables.pte_offset(table, a)) != 0) {
                map_run();
            } else {
                if (count == 0) run_start = a;
                ++count;
            }
            a += page;
        }
        map_run();
    }
    return mapped_target;
}

const char* FaultHandler::finish_fault(VmFault& vmf, const Folio& folio, std::uint64_t pgoff, bool anon_copy) {
    Mm& mm = *vmf.mm;
    const Vma& vma = *vmf.vma;
    const std::uint64_t page = m_k.geo.page_size();
    const std::uint64_t table = m_k.tables.pte_alloc(vmf.pmd);
    unsigned nr = 1;
    std::uint64_t addr = vmf.address;
    std::uint64_t pfn = anon_copy ? folio.head_pfn : folio.head_pfn + (pgoff & (folio.nr_pages() - 1));
    // The whole large folio in one set_ptes: from v6.11 for anonymous shmem only ("mm: memory:
    // extend finish_fault() to support large folio"), from v6.14 for all shmem ("mm: shmem:
    // add large folio support for tmpfs"), from v6.18 for every file ("mm/fault: try to map
    // the entire file folio in finish_fault()", 19773df031bc). Before, the faulting page
    // alone: the rest of the folio comes from fault-around or later faults.
    const bool whole_folio = m_k.config.version.at_least(6, 18) || (m_k.config.version.at_least(6, 11) && vma.shmem());
    if (!anon_copy && folio.order > 0 && whole_folio && !vma.uffd_armed() && !vmf.uffd_wp_marker) {
        // Map the whole large folio when it lies inside the VMA and the PTE table.
        const std::uint64_t idx = pgoff & (folio.nr_pages() - 1);
        const std::uint64_t start = vmf.address - idx * page;
        const std::uint64_t end = start + folio.nr_pages() * page;
        const std::uint64_t pmd_start = vmf.address & ~(m_k.geo.pmd_size() - 1);
        if (start >= vma.start && end <= vma.end && start >= pmd_start && end <= pmd_start + m_k.geo.pmd_size() &&
            pte_range_none(m_k.tables.pte_offset(table, start), static_cast<unsigned>(folio.nr_pages()))) {
            nr = static_cast<unsigned>(folio.nr_pages());
            addr = start;
            pfn = folio.head_pfn;
        }
    }
    vmf.pte = m_k.tables.pte_offset(table, addr);
    if (nr == 1 && vmf_pte_changed(vmf)) {
        if (anon_copy) m_pages.free(folio);
        return "raced";
    }
    arch::Desc entry = arch::desc_mkyoung(arch::desc_with_pfn(vma.page_prot, pfn, m_k.geo.page_shift));
    if (vmf.write) entry = arch::desc_mkwrite(arch::desc_mkdirty(entry));
    if (vmf.uffd_wp_marker) entry = pte_mkuffd_wp(entry);
    m_k.pgtable.set_ptes(mm, addr, vmf.pte, entry, nr);
    m_k.rmap.add(folio.head_pfn, mm.id, nr);
    if (anon_copy) return "file_cow";
    return nr > 1 ? "file_folio" : (vmf.write ? "file_shared_write" : "file_page");
}

const char* FaultHandler::do_pfn_fault(VmFault& vmf) {
    // The driver's fault handler: vmf_insert_pfn of one special entry.
    const Vma& vma = *vmf.vma;
    const std::uint64_t table = m_k.tables.pte_alloc(vmf.pmd);
    vmf.pte = m_k.tables.pte_offset(table, vmf.address);
    const std::uint64_t pfn = vma.pgoff + ((vmf.address - vma.start) >> m_k.geo.page_shift);
    arch::Desc entry = arch::desc_with_pfn(vma.page_prot, pfn, m_k.geo.page_shift) | kSwSpecial;
    if (vmf.write) entry = arch::desc_mkwrite(arch::desc_mkdirty(arch::desc_mkyoung(entry)));
    m_k.pgtable.set_pte_at(*vmf.mm, vmf.address, vmf.pte, entry);
    return "pfnmap_insert";
}

// ---- write-protect faults -----------------------------------------------------------------

const char* FaultHandler::do_wp_page(VmFault& vmf) {
    Mm& mm = *vmf.mm;
    const Vma& vma = *vmf.vma;
    if (pte_uffd_wp(m_k.pgtable.ptep_get(vmf.pte)) && vma.flags.uffd_wp) {
        if (!mm.uffd_wp_async) {
            // Delivered to the monitor, which unprotects the page; the access retries.
            ++m_k.stats.uffd_events;
            (void)m_ops.uffd_writeprotect(mm, vmf.address, m_k.geo.page_size(), false);
            return "uffd_wp_sync";
        }
        // Async mode: the kernel clears the bit itself (one entry: unfolds a block).
        const arch::Desc pte = pte_clear_uffd_wp(m_k.pgtable.ptep_get(vmf.pte));
        m_k.pgtable.set_pte_at(mm, vmf.address, vmf.pte, pte);
        vmf.orig_pte = pte;
        ++m_k.stats.uffd_wp_async_resolved;
    }
    const std::optional<Folio> folio = m_ops.vm_normal_folio(vma, vmf.orig_pte);
    if (vma.flags.shared) return wp_page_reuse(vmf);  // page_mkwrite / pfn_mkwrite, then reuse
    // An anonymous page is reused when it is PageAnonExclusive, or when
    // wp_can_reuse_anon_folio finds the folio is this process's alone; it is exclusive then.
    const std::uint64_t pfn = arch::desc_pfn(vmf.orig_pte, m_k.geo.page_shift);
    if (folio && m_k.rmap.info(folio->head_pfn).anon &&
        (m_k.rmap.anon_exclusive(pfn) || wp_can_reuse_anon_folio(*folio, mm))) {
        m_k.rmap.set_anon_exclusive(pfn, 1);
        return wp_page_reuse(vmf);
    }
    return wp_page_copy(vmf);
}

bool FaultHandler::wp_can_reuse_anon_folio(const Folio& folio, const Mm& mm) const {
    const Rmap::Info* info = m_k.rmap.find(folio.head_pfn);
    if (info == nullptr) return false;
    // Every reference of a model folio is a mapping (no pins, no swap cache, no LRU batch),
    // so folio_ref_count equals the mapcount of all address spaces.
    const std::uint64_t mapcount = info->total();
    if (folio.order > 0) {
        // Before v6.15 a page of a large folio is never reused this way ("let's just
        // consistently not reuse subpages"). From v6.15 ("mm: Copy-on-Write (COW) reuse
        // support for PTE-mapped THP", __wp_can_reuse_large_anon_folio): reused when every
        // reference is a mapping of this process, but not when a single page is mapped
        // (folio_large_mapcount <= 1: the large folio is better given back).
        if (!m_k.config.version.at_least(6, 15)) return false;
        return mapcount > 1 && m_k.rmap.exclusive_to(folio.head_pfn, mm.id);
    }
    // A small folio: the one reference is this mapping (folio_ref_count == 1).
    return mapcount == 1 && m_k.rmap.exclusive_to(folio.head_pfn, mm.id);
}

const char* FaultHandler::wp_page_reuse(VmFault& vmf) {
    // Only this entry becomes writable: the other entries of a large folio keep faulting.
    arch::Desc entry = arch::desc_mkyoung(vmf.orig_pte);
    entry = arch::desc_mkwrite(arch::desc_mkdirty(entry));
    (void)m_k.pgtable.ptep_set_access_flags(*vmf.mm, vmf.address, vmf.pte, entry, true);
    return "wp_reuse";
}

const char* FaultHandler::wp_page_copy(VmFault& vmf) {
    Mm& mm = *vmf.mm;
    Vma& vma = *vmf.vma;
    const std::uint64_t old_pfn = arch::desc_pfn(vmf.orig_pte, m_k.geo.page_shift);
    const bool from_zero = arch::desc_special(vmf.orig_pte) && old_pfn == m_k.zero_pfn;
    const Folio folio = m_pages.alloc(0, from_zero, true);  // zeroed, or a copy of the old page
    // __wp_page_copy_user: copy_user_highpage of the old page's 4 KiB.
    if (!from_zero) m_k.delay += cycles_to_time(m_k.config.costs.copy_per_4k * (m_k.geo.page_size() >> 12));
    if (!pte_same(m_k.pgtable.ptep_get(vmf.pte), vmf.orig_pte)) {
        m_pages.free(folio);
        return "raced";
    }
    vma.anon_vma = true;
    arch::Desc entry = arch::desc_mkyoung(arch::desc_with_pfn(vma.page_prot, folio.head_pfn, m_k.geo.page_shift));
    if (vma.flags.write) entry = arch::desc_mkwrite(arch::desc_mkdirty(entry));
    // Break-before-make for a PFN change: clear and flush the old entry, then install.
    m_k.pgtable.ptep_clear_flush(mm, vmf.address, vmf.pte);
    m_k.pgtable.set_pte_at(mm, vmf.address, vmf.pte, entry);
    m_k.rmap.add(folio.head_pfn, mm.id, 1);
    if (!arch::desc_special(vmf.orig_pte)) m_pages.unmap(old_pfn, mm.id, 1);
    return from_zero ? "wp_copy_zero" : "wp_copy";
}

// ---- NUMA hinting -------------------------------------------------------------------------

const char* FaultHandler::migration_entry_wait(VmFault& vmf) {
    // do_swap_page -> migration_entry_wait: under the PTE lock, a migration entry still in
    // place sends the fault to sleep until the migration removes it, then the access is
    // retried. A kernel call of the model runs to its end before another starts, so a
    // migration never leaves its entries behind: a fault finds one only if it read the entry
    // before the migration ended, and then finds the new entry here and retries.
    if (!is_migration_entry(m_k.pgtable.ptep_get(vmf.pte))) return "migration_wait";
    throw KernelError("fault on a migration entry at VA " + hex(vmf.address) +
                      " that no migration in progress will remove (a model error: every migration ends by "
                      "restoring its entries)");
}

const char* FaultHandler::do_numa_page(VmFault& vmf) {
    Mm& mm = *vmf.mm;
    const Vma& vma = *vmf.vma;
    if (!pte_same(m_k.pgtable.ptep_get(vmf.pte), vmf.orig_pte)) return "raced";
    const std::optional<Folio> folio = m_ops.vm_normal_folio(vma, vmf.orig_pte);
    const std::uint64_t page = m_k.geo.page_size();
    // One node: nothing migrates; the mapping is rebuilt with the VMA's protection, one
    // entry at a time, over the whole folio for a large one (numa_rebuild_large_mapping).
    std::uint64_t start = vmf.address, end = vmf.address + page;
    if (folio && folio->order > 0) {
        const std::uint64_t nr = arch::desc_pfn(vmf.orig_pte, m_k.geo.page_shift) - folio->head_pfn;
        const std::uint64_t fstart = vmf.address - nr * page;
        const std::uint64_t pt_start = vmf.address & ~(m_k.geo.pmd_size() - 1);
        start = std::max({fstart, pt_start, vma.start});
        end = std::min({fstart + folio->nr_pages() * page, pt_start + m_k.geo.pmd_size(), vma.end});
    }
    const std::uint64_t table = m_k.tables.pte_table(vmf.pmd);
    for (std::uint64_t a = start; a < end; a += page) {
        const std::uint64_t ptep = m_k.tables.pte_offset(table, a);
        const arch::Desc ptent = m_k.pgtable.ptep_get(ptep);
        if (!pte_protnone(ptent)) continue;
        if (folio && m_k.folios.folio_of(arch::desc_pfn(ptent, m_k.geo.page_shift))->head_pfn != folio->head_pfn) continue;
        const arch::Desc old = m_k.pgtable.modify_prot_start_ptes(mm, a, ptep, 1);
        arch::Desc pte = arch::desc_mkyoung(pte_modify(old, vma.page_prot));
        // can_change_pte_writable: a private mapping's page only when PageAnonExclusive.
        if (vma.flags.write && !vma.flags.shared && folio && m_k.rmap.anon_exclusive(arch::desc_pfn(ptent, m_k.geo.page_shift)))
            pte = arch::desc_mkwrite(pte);
        m_k.pgtable.modify_prot_commit_ptes(mm, a, ptep, pte, 1);
    }
    return "numa_hinting";
}

}  // namespace mmusim::kernel
