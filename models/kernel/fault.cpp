#include "models/kernel/fault.h"

#include <sstream>

#include "models/arch/descriptor.h"
#include "models/arch/sizes.h"
#include "models/common/cycles.h"
#include "models/kernel/kernel_error.h"

namespace mmusim::kernel {

using namespace arch::bits;

FaultHandler::FaultHandler(const KernelConfig& config, KernelStats& stats, Pgtable& pgtable, PgtableAlloc& tables,
                           FolioAllocator& folios, sc_core::sc_time& delay)
    : m_config(config), m_geo(arch::geometry(config.granule)), m_stats(stats), m_pgtable(pgtable),
      m_tables(tables), m_folios(folios), m_delay(delay) {
    // The shared zero page is reserved at boot and never freed; it is not a user folio.
    const std::optional<Folio> zero = m_folios.alloc(0);
    if (!zero) throw KernelError("out of memory at boot: no page for the zero page");
    m_zero_pfn = zero->head_pfn;
}

namespace {
std::string hex(std::uint64_t v) {
    std::ostringstream os;
    os << "0x" << std::hex << v;
    return os.str();
}
}  // namespace

std::string FaultHandler::describe(const FaultRequest& f) const {
    std::ostringstream os;
    os << arch::access_name(f.access) << " " << arch::fault_kind_name(f.kind) << " fault at VA 0x" << std::hex << f.va;
    return os.str();
}

Folio FaultHandler::alloc_folio(unsigned order, bool zero) {
    const std::optional<Folio> folio = m_folios.alloc(order);
    if (!folio) throw KernelError("out of memory: no free block of " + arch::size_name(m_geo.page_size() << order) +
                                  " (raise platform.memory.size)");
    m_delay += cycles_to_time(m_config.costs.folio_alloc + (zero ? m_config.costs.zero_per_4k * ((folio->nr_pages() << m_geo.page_shift) >> 12) : 0));
    ++m_stats.folios_by_size[m_geo.page_size() << order];
    return *folio;
}

const char* FaultHandler::handle_mm_fault(Mm& mm, const FaultRequest& fault) {
    const Vma* vma = mm.find_vma(fault.va);
    if (vma == nullptr)
        throw KernelError("SIGSEGV: " + describe(fault) + " is outside every mapping of the process");
    const bool allowed = fault.access == arch::Access::Store    ? vma->flags.write
                         : fault.access == arch::Access::Ifetch ? vma->flags.exec
                                                                : vma->flags.read;
    if (!allowed) throw KernelError("SIGSEGV: " + describe(fault) + " is not permitted by the mapping " + vma->name);
    if (fault.kind == arch::FaultKind::TlbConflict)
        throw KernelError("TLB conflict abort: " + describe(fault) + " (the process is killed)");

    VmFault vmf{};
    vmf.mm = &mm;
    vmf.vma = vma;
    vmf.address = fault.va & ~(m_geo.page_size() - 1);
    vmf.write = fault.access == arch::Access::Store;
    // The model populates code on an instruction fetch (layout "auto" maps code as anonymous
    // memory), so only loads may map the shared zero page.
    vmf.use_zero_page = fault.access == arch::Access::Load && m_config.zero_page;

    // __handle_mm_fault: allocate the upper levels; PMD THP is not modelled (thp = never).
    vmf.pmd = m_tables.pmd_alloc(mm, vmf.address);
    return handle_pte_fault(vmf);
}

const char* FaultHandler::handle_pte_fault(VmFault& vmf) {
    const std::uint64_t table = m_tables.pte_table(vmf.pmd);
    if (table != 0) {
        vmf.pte = m_tables.pte_offset(table, vmf.address);
        vmf.orig_pte = m_pgtable.ptep_get_lockless(vmf.pte);
        vmf.orig_pte_valid = true;
        if (vmf.orig_pte == 0) vmf.pte = 0;  // pte_none: treat as missing
    }
    if (vmf.pte == 0) {
        if (!vmf.vma->anonymous) throw KernelError("file-backed faults are not modelled yet");
        return do_anonymous_page(vmf);
    }
    if (!arch::desc_valid(vmf.orig_pte) && (vmf.orig_pte & kNg) == 0)
        throw KernelError("fault on a swap or marker entry: swap-in is not modelled yet");
    if (!arch::desc_valid(vmf.orig_pte))
        throw KernelError("fault on a PROT_NONE entry: NUMA hinting is not modelled yet");

    // Under the PTE lock: re-check that the entry did not change.
    if (m_pgtable.ptep_get(vmf.pte) != vmf.orig_pte) return "raced";
    if (vmf.write && !arch::desc_write(vmf.orig_pte)) return do_wp_page(vmf);
    // Otherwise the entry already allows the access: an access-flag or dirty-state fix-up
    // (ptep_set_access_flags), which needs hardware A/D management off and entries made old
    // or clean first; no path of this model creates such entries yet.
    throw KernelError("access-flag or dirty fix-up fault at VA " + hex(vmf.address) +
                      ": ptep_set_access_flags is not modelled yet");
}

const char* FaultHandler::do_anonymous_page(VmFault& vmf) {
    const Mm& mm = *vmf.mm;
    const std::uint64_t table = m_tables.pte_alloc(vmf.pmd);
    if (vmf.use_zero_page) {
        // Read fault: map the shared zero page, special, read-only.
        const arch::Desc entry = arch::desc_with_pfn(vmf.vma->page_prot, m_zero_pfn, m_geo.page_shift) | kSwSpecial;
        vmf.pte = m_tables.pte_offset(table, vmf.address);
        if (vmf_pte_changed(vmf)) return "raced";
        m_pgtable.set_ptes(mm, vmf.address, vmf.pte, entry, 1);
        return "anon_zero_page";
    }

    const Folio folio = alloc_anon_folio(vmf, table);
    const unsigned nr_pages = static_cast<unsigned>(folio.nr_pages());
    const std::uint64_t addr = vmf.address & ~((m_geo.page_size() << folio.order) - 1);
    arch::Desc entry = arch::desc_with_pfn(vmf.vma->page_prot, folio.head_pfn, m_geo.page_shift);
    if (vmf.vma->flags.write) entry = arch::desc_mkwrite(arch::desc_mkdirty(entry));

    // Under the PTE lock: the entry (or the whole range) must still be none.
    vmf.pte = m_tables.pte_offset(table, addr);
    const bool changed = nr_pages == 1 ? vmf_pte_changed(vmf) : !pte_range_none(vmf.pte, nr_pages);
    if (changed) {
        m_folios.free(folio);
        return "raced";
    }
    m_pgtable.set_ptes(mm, addr, vmf.pte, entry, nr_pages);
    return folio.order == 0 ? "anon_folio_order0" : "anon_folio_large";
}

bool FaultHandler::pte_range_none(std::uint64_t ptep, unsigned nr) {
    for (unsigned i = 0; i < nr; ++i)
        if (m_pgtable.ptep_get_lockless(ptep + 8 * i) != 0) return false;
    return true;
}

bool FaultHandler::vmf_pte_changed(VmFault& vmf) {
    const arch::Desc now = m_pgtable.ptep_get(vmf.pte);
    if (vmf.orig_pte_valid) return now != vmf.orig_pte;  // pte_same
    return now != 0;
}

Folio FaultHandler::alloc_anon_folio(VmFault& vmf, std::uint64_t pte_table) {
    // Enabled orders whose naturally aligned range lies inside the VMA, highest first.
    std::vector<unsigned> orders;
    for (auto it = m_config.mthp_orders.rbegin(); it != m_config.mthp_orders.rend(); ++it) {
        const std::uint64_t size = m_geo.page_size() << *it;
        const std::uint64_t start = vmf.address & ~(size - 1);
        if (start >= vmf.vma->start && start + size <= vmf.vma->end) orders.push_back(*it);
    }
    // The highest order whose aligned range is all none (read locklessly, stopping at the
    // first entry that is not); every lower order is then all none too.
    std::size_t k = 0;
    for (; k < orders.size(); ++k) {
        const std::uint64_t size = m_geo.page_size() << orders[k];
        if (pte_range_none(m_tables.pte_offset(pte_table, vmf.address & ~(size - 1)), 1u << orders[k])) break;
    }
    // Allocate the highest remaining order, falling back order by order when the allocator
    // has no free block that large; order 0 is the last resort.
    for (; k < orders.size(); ++k)
        if (m_folios.can_alloc(orders[k])) return alloc_folio(orders[k], true);
    return alloc_folio(0, true);
}

const char* FaultHandler::do_wp_page(VmFault& vmf) {
    // uffd-wp check: reads the entry again.
    (void)m_pgtable.ptep_get(vmf.pte);
    const std::uint64_t pfn = arch::desc_pfn(vmf.orig_pte, m_geo.page_shift);
    // vm_normal_page: special entries (the zero page, pfn maps) have no folio to reuse.
    if (arch::desc_special(vmf.orig_pte) || !m_folios.folio_of(pfn)) return wp_page_copy(vmf);
    throw KernelError("write fault on a read-only anonymous page at VA " + hex(vmf.address) +
                      ": reusing or copying a mapped folio (wp_page_reuse, COW) is not modelled yet");
}

const char* FaultHandler::wp_page_copy(VmFault& vmf) {
    const Mm& mm = *vmf.mm;
    const bool from_zero = arch::desc_pfn(vmf.orig_pte, m_geo.page_shift) == m_zero_pfn;
    if (!from_zero) throw KernelError("copy-on-write of a pfn-mapped page is not modelled yet");
    const Folio folio = alloc_folio(0, true);  // vma_alloc_zeroed_movable_folio
    if (m_pgtable.ptep_get(vmf.pte) != vmf.orig_pte) {
        m_folios.free(folio);
        return "raced";
    }
    arch::Desc entry = arch::desc_with_pfn(vmf.vma->page_prot, folio.head_pfn, m_geo.page_shift);
    if (vmf.vma->flags.write) entry = arch::desc_mkwrite(arch::desc_mkdirty(entry));
    // Break-before-make for a PFN change: clear and flush the old entry, then install.
    m_pgtable.ptep_clear_flush(mm, vmf.address, vmf.pte);
    m_pgtable.set_pte_at(mm, vmf.address, vmf.pte, entry);
    return "wp_copy";
}

}  // namespace mmusim::kernel
