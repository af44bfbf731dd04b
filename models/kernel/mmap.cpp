// mmap (mm/mmap.c do_mmap) at the address the script chose, as MAP_FIXED_NOREPLACE: a new
// VMA, and for a driver pfn map the whole range filled at once by remap_pfn_range
// (spec/kernel.md §6.3).
#include "models/arch/sizes.h"
#include "models/kernel/kernel_error.h"
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
    // MAP_FIXED (a traced call): what was mapped there goes first (do_mmap -> mmap_region's
    // unmap of the old range).
    if (call.fixed) {
        const int r = munmap(mm, call.addr, len);
        if (r != 0) return r;
    }
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
        vma.file = call.file_path.empty() ? call.file : trace_file(call.file_path);
        vma.pgoff = call.file_offset / page;
        unsigned order = 0;
        if (call.file_folio > page) order = arch::log2_exact(call.file_folio / page);
        if (!m_k.page_cache.has_order(vma.file)) m_k.page_cache.folio_order(vma.file) = order;
    }
    if (vma.pfnmap()) {
        if ((call.pfn_offset & (page - 1)) != 0) return -err::kEinval;
        vma.pgoff = m_k.device_pfn + call.pfn_offset / page;
    }
    vma.page_prot = vma_page_prot(vma);
    vma.name = call.file_path.empty() ? call.origin : call.file_path;
    mm.vmas.emplace(vma.start, vma);
    if (vma.kind == VmaKind::Pfnmap) remap_pfn_range(mm, vma);
    return 0;
}

int MmOps::brk(Mm& mm, const Syscall& call) {
    const std::uint64_t newbrk = call.new_addr;
    if (mm.start_brk == 0) {
        // The heap's start is the break the first query answers (brk(0) returns it).
        if (call.addr != 0)
            throw KernelError(call.origin + ": brk(" + hex(call.addr) + ") before any brk(0) and with no [heap] mapping: "
                              "the heap's start is unknown");
        mm.start_brk = mm.brk = newbrk;
        return 0;
    }
    const std::uint64_t oldbrk = mm.brk;
    if (newbrk < mm.start_brk) return -err::kEnomem;
    const std::uint64_t old_end = page_align(oldbrk), new_end = page_align(newbrk);
    if (new_end < old_end) {
        // Shrinking: the freed pages are unmapped (do_vmi_align_munmap).
        const int r = munmap(mm, new_end, old_end - new_end);
        if (r != 0) return r;
    } else if (new_end > old_end) {
        // do_brk_flags: anonymous read/write memory after the old break, merged with the heap
        // VMA when it ends there.
        Syscall grow;
        grow.op = SyscallOp::Mmap;
        grow.addr = old_end;
        grow.len = new_end - old_end;
        grow.kind = MapKind::Anon;
        grow.prot = kProtRead | kProtWrite;
        grow.origin = "[heap]";
        const int r = mmap(mm, grow);
        if (r != 0) return r;
        mm.vmas.at(old_end).flags.heap = true;
        mm.vmas.at(old_end).page_prot = vma_page_prot(mm.vmas.at(old_end));
        merge_vmas(mm, old_end, new_end);
    }
    mm.brk = newbrk;
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
