// mmap (mm/mmap.c do_mmap) at the address the script chose, as MAP_FIXED_NOREPLACE: a new
// VMA, and for a driver pfn map the whole range filled at once by remap_pfn_range
// (spec/kernel.md §6.3).
#include "models/arch/sizes.h"
#include "models/kernel/mm_ops.h"
#include "models/kernel/pte.h"

namespace mmusim::kernel {

int MmOps::mmap(Mm& mm, const Syscall& call) {
    const std::uint64_t page = m_k.geo.page_size();
    if (!aligned(call.addr)) return -err::kEinval;
    const std::uint64_t len = page_align(call.len);
    if (len == 0 || len < call.len) return -err::kEinval;
    const std::uint64_t end = call.addr + len;
    if (call.addr < page || end > arch::kUserVaEnd || end < call.addr) return -err::kEnomem;
    for (auto it = mm.vmas.begin(); it != mm.vmas.end(); ++it)
        if (it->second.start < end && it->second.end > call.addr) return -err::kEexist;
    if ((call.prot & ~(kProtRead | kProtWrite | kProtExec)) != 0) return -err::kEinval;

    Vma vma;
    vma.start = call.addr;
    vma.end = end;
    vma.flags.read = (call.prot & kProtRead) != 0;
    vma.flags.write = (call.prot & kProtWrite) != 0;
    vma.flags.exec = (call.prot & kProtExec) != 0;
    vma.flags.shared = call.shared;
    switch (call.kind) {
        case MapKind::Anon: vma.kind = VmaKind::Anon; break;
        case MapKind::File: vma.kind = VmaKind::File; break;
        case MapKind::Pfnmap: vma.kind = VmaKind::Pfnmap; break;
        case MapKind::HugePfnmap: vma.kind = VmaKind::HugePfnmap; break;
    }
    if (vma.kind == VmaKind::Anon && vma.flags.shared) {
        // Shared anonymous memory is shmem: a file of its own in the page cache.
        vma.kind = VmaKind::File;
        vma.file = kShmemFileBase + m_next_shmem++;
        vma.pgoff = 0;
        m_k.page_cache.folio_order(vma.file) = 0;
    } else if (vma.kind == VmaKind::File) {
        if ((call.file_offset & (page - 1)) != 0) return -err::kEinval;
        vma.file = call.file;
        vma.pgoff = call.file_offset / page;
        unsigned order = 0;
        if (call.file_folio > page) order = arch::log2_exact(call.file_folio / page);
        if (!m_k.page_cache.has_order(call.file)) m_k.page_cache.folio_order(call.file) = order;
    }
    if (vma.pfnmap()) {
        if ((call.pfn_offset & (page - 1)) != 0) return -err::kEinval;
        vma.pgoff = m_k.device_pfn + call.pfn_offset / page;
    }
    vma.page_prot = vma_page_prot(vma);
    vma.name = call.origin;
    mm.vmas.emplace(vma.start, vma);
    if (vma.kind == VmaKind::Pfnmap) remap_pfn_range(mm, vma);
    return 0;
}

void MmOps::remap_pfn_range(Mm& mm, const Vma& vma) {
    // One lazy section per PTE table; one set_pte_at per page with the SPECIAL bit, so
    // fold is never attempted (special entries have no folio).
    const std::uint64_t page = m_k.geo.page_size();
    std::uint64_t pfn = vma.pgoff;
    for (std::uint64_t addr = vma.start; addr < vma.end;) {
        const std::uint64_t next = m_k.geo.pmd_addr_end(addr, vma.end);
        const std::uint64_t table = m_k.tables.pte_alloc(m_k.tables.pmd_alloc(mm, addr));
        const LazyMmu::State lazy = m_k.lazy.enable();
        for (; addr < next; addr += page, ++pfn) {
            const Desc e = m_k.pgtable.pfn_pte(pfn, vma.page_prot) | pte_bits::kSwSpecial;
            m_k.pgtable.set_pte_at(mm, addr, m_k.tables.pte_offset(table, addr), e);
        }
        m_k.lazy.disable(lazy);
    }
}

}  // namespace mmusim::kernel
