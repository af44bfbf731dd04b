// The address space of a traced process (workload.layout "trace"): the mappings it had at
// exec, the files it maps by path, mremap in all its forms, and stack growth. The traced
// system calls themselves go through the ordinary operations (mmap.cpp, zap.cpp, ...).
#include "models/kernel/kernel_error.h"
#include "models/kernel/mm_ops.h"

namespace mmusim::kernel {

// What exec left (load_elf_binary's elf_map of the program and its interpreter,
// setup_arg_pages for the stack, arch_setup_additional_pages for [vdso]/[vvar], the bss and
// [heap] as anonymous memory): one VMA per mapping, as it was.
void MmOps::install_initial_mappings(Mm& mm, const std::vector<InitialMapping>& maps) {
    const std::uint64_t page = m_k.geo.page_size();
    for (const InitialMapping& m : maps) {
        Vma vma;
        vma.start = m.start;
        vma.end = m.end;
        vma.flags.read = m.read;
        vma.flags.write = m.write;
        vma.flags.exec = m.exec;
        vma.flags.shared = m.shared;
        vma.name = m.name.empty() ? "[anon]" : m.name;
        if (m.name == "[stack]") {
            vma.flags.growsdown = true;
        } else if (m.name == "[heap]") {
            vma.flags.heap = true;
            mm.start_brk = m.start;
            mm.brk = m.end;
        } else if (m.name == "[vdso]" || m.name == "[vvar]") {
            // The kernel's own pages, inserted on fault (special_mapping_fault): a file of
            // their own here, never written.
            vma.kind = VmaKind::File;
            vma.flags.special = true;
            vma.file = trace_file(m.name);
            vma.pgoff = 0;
        } else if (!m.name.empty()) {
            vma.kind = VmaKind::File;
            vma.file = trace_file(m.name);
            vma.pgoff = m.offset / page;
        }
        if (vma.kind == VmaKind::Anon && vma.flags.shared) {
            vma.kind = VmaKind::File;
            vma.file = kShmemFileBase + m_next_shmem++;
            m_k.page_cache.folio_order(vma.file) = 0;
        }
        vma.page_prot = vma_page_prot(vma);
        mm.vmas.emplace(vma.start, vma);
    }
}

unsigned MmOps::trace_file(const std::string& path) {
    const auto it = m_trace_files.find(path);
    if (it != m_trace_files.end()) return it->second;
    const unsigned id = kTraceFileBase + static_cast<unsigned>(m_trace_files.size());
    m_trace_files.emplace(path, id);
    // The page cache reads a traced file in folios of kernel.file_folios (readahead's large
    // folios); executable mappings follow kernel.exec_folios where it is set. [vdso] and
    // [vvar] are single kernel pages.
    const bool special = path == "[vdso]" || path == "[vvar]";
    if (!m_k.page_cache.has_order(id)) m_k.page_cache.folio_order(id) = special ? 0 : m_k.config.file_folio_order;
    return id;
}

// mremap(old, old_len, new_len, flags, new_addr) with the traced result `call.new_addr`
// (mm/mremap.c): in place it shrinks (the tail is unmapped) or grows (vma_expand over the
// free range after it); moved, a shrink first drops the tail, then move_vma moves what is
// left (move_page_tables) and a growth extends the new VMA.
int MmOps::mremap_traced(Mm& mm, const Syscall& call) {
    const std::uint64_t old = call.addr;
    const std::uint64_t old_len = page_align(call.len);
    const std::uint64_t new_len = page_align(call.new_len == 0 ? call.len : call.new_len);
    const std::uint64_t to = call.new_addr;
    if (!aligned(old) || !aligned(to) || new_len == 0) return -err::kEinval;
    const Vma* vma = mm.find_vma(old);
    if (vma == nullptr || vma->end - old < old_len) return -err::kEfault;
    if (new_len < old_len) {
        const int r = munmap(mm, old + new_len, old_len - new_len);
        if (r != 0) return r;
    }
    const std::uint64_t kept = std::min(old_len, new_len);
    if (to != old) {
        const int r = mremap(mm, old, kept, to);
        if (r != 0) return r;
    }
    if (new_len > old_len) return vma_expand(mm, to + old_len, new_len - old_len);
    return 0;
}

// vma_expand: the VMA ending at `at` grows by `extra` bytes over free addresses; a file
// mapping keeps counting its pages on.
int MmOps::vma_expand(Mm& mm, std::uint64_t at, std::uint64_t extra) {
    const Vma* before = mm.find_vma(at - 1);
    if (before == nullptr || before->end != at) return -err::kEfault;
    for (const auto& [start, v] : mm.vmas)
        if (v.start < at + extra && v.end > at) return -err::kEexist;
    Vma grown = *before;
    grown.start = at;
    grown.end = at + extra;
    if (grown.kind == VmaKind::File) grown.pgoff = before->pgoff + (at - before->start) / m_k.geo.page_size();
    mm.vmas.emplace(at, grown);
    merge_vmas(mm, at, at + extra);
    return 0;
}

// expand_stack (mm/mmap.c, v6.5's "mm: make find_extend_vma() fail if write lock not held"
// moved it under lock_mm_and_find_vma): a fault below a VM_GROWSDOWN VMA grows it down to the
// faulting page, unless that comes within stack_guard_gap (256 pages) of the mapping below or
// the stack would exceed RLIMIT_STACK (8 MiB, the usual default).
bool MmOps::expand_stack(Mm& mm, std::uint64_t va) {
    const std::uint64_t page = m_k.geo.page_size();
    const std::uint64_t addr = va & ~(page - 1);
    auto next = mm.vmas.upper_bound(va);
    if (next == mm.vmas.end() || !next->second.flags.growsdown) return false;
    const std::uint64_t gap = 256 * page;
    if (next != mm.vmas.begin()) {
        const Vma& prev = std::prev(next)->second;
        if (prev.end > addr || addr - prev.end < gap) return false;
    } else if (addr < gap) {
        return false;
    }
    if (next->second.end - addr > (std::uint64_t{8} << 20)) return false;
    Vma grown = next->second;
    mm.vmas.erase(next);
    grown.start = addr;
    mm.vmas.emplace(addr, grown);
    return true;
}

}  // namespace mmusim::kernel
