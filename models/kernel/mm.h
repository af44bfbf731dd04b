// An address space (mm_struct) and its VMAs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

namespace mmusim::kernel {

// What backs a VMA.
enum class VmaKind : std::uint8_t {
    Anon,        // anonymous memory (private, or shared: shmem-like)
    File,        // a file of the simulated page cache
    Pfnmap,      // VM_PFNMAP filled by remap_pfn_range at mmap time
    HugePfnmap,  // VM_PFNMAP whose driver inserts PMD-sized special entries on fault
};

// VMA flags that the modelled paths consult (the VM_* bits of Linux).
struct VmFlags {
    bool read = true, write = true, exec = true;
    bool shared = false;
    bool dontfork = false;     // VM_DONTCOPY (MADV_DONTFORK)
    bool hugepage = false;     // VM_HUGEPAGE (MADV_HUGEPAGE)
    bool nohugepage = false;   // VM_NOHUGEPAGE
    bool uffd_missing = false; // VM_UFFD_MISSING
    bool uffd_wp = false;      // VM_UFFD_WP
    bool growsdown = false;    // VM_GROWSDOWN (the stack)
    bool special = false;      // a special mapping of the kernel's own pages ([vdso], [vvar])
    bool heap = false;         // the brk heap ([heap])
    bool operator==(const VmFlags&) const = default;
};

// File ids from here on are shmem objects (the files behind shared anonymous memory).
inline constexpr unsigned kShmemFileBase = 1u << 30;
// File ids from here to kShmemFileBase are the files a trace names, by path.
inline constexpr unsigned kTraceFileBase = 1u << 29;

// One mapping of a trace's address space at exec (workload.layout "trace").
struct InitialMapping {
    std::uint64_t start = 0, end = 0;
    bool read = false, write = false, exec = false, shared = false;
    std::uint64_t offset = 0;  // file offset of `start`
    std::string name;          // a path, "[stack]", "[heap]", "[vdso]", "[vvar]", or "" (anonymous)
};

// The kinds of mapping that statistics tell apart (kernel.by_vma, mmu.by_vma).
enum class VmaClass : std::uint8_t { Text, File, Anon, Heap, Stack, Shared, Special, Count };
inline const char* vma_class_name(VmaClass c) {
    switch (c) {
        case VmaClass::Text: return "text";
        case VmaClass::File: return "file";
        case VmaClass::Anon: return "anon";
        case VmaClass::Heap: return "heap";
        case VmaClass::Stack: return "stack";
        case VmaClass::Shared: return "shared";
        case VmaClass::Special: return "special";
        case VmaClass::Count: break;
    }
    return "?";
}
inline constexpr std::size_t kVmaClassCount = static_cast<std::size_t>(VmaClass::Count);

// The kind of mapping an address of a process lies in, for the cores' attribution of their
// MMU's TLB misses (mmu.by_vma). A plain read of the address spaces, not a kernel call: it
// takes no simulated time and counts nothing. VmaClass::Count: no VMA holds the address.
class VmaClassLookup {
public:
    virtual VmaClass vma_class(unsigned process, std::uint64_t va) const = 0;

protected:
    ~VmaClassLookup() = default;
};

struct Vma {
    std::uint64_t start = 0, end = 0;  // [start, end)
    VmFlags flags;
    std::uint64_t page_prot = 0;       // vm_page_prot: the PTE attributes of a new mapping
    VmaKind kind = VmaKind::Anon;
    bool anon_vma = false;             // an anonymous page was ever mapped (fork copies tables)
    bool holds_code = false;           // layout "auto"'s one VMA: code is anonymous memory here, so an
                                       // instruction fetch populates it (no zero page)
    unsigned file = 0;                 // File: which file
    std::uint64_t pgoff = 0;           // File: file page of `start`; Pfnmap: PFN of `start`
    std::string name;

    bool contains(std::uint64_t va) const { return va >= start && va < end; }
    bool anonymous() const { return kind == VmaKind::Anon && !flags.shared; }
    bool pfnmap() const { return kind == VmaKind::Pfnmap || kind == VmaKind::HugePfnmap; }
    // vma_is_shmem (every shmem object here is shared anonymous memory, so vma_is_anon_shmem
    // too).
    bool shmem() const { return kind == VmaKind::File && file >= kShmemFileBase; }
    bool uffd_armed() const { return flags.uffd_missing || flags.uffd_wp; }
    // vma_wants_writenotify: a shared writable file mapping whose entries start read-only so
    // that the file system sees the first write (page_mkwrite). Shared anonymous memory is a
    // shmem file here (MmOps::mmap) and is treated the same, although Linux's tmpfs, which
    // has no writeback, maps it writable at once.
    bool wants_writenotify() const { return kind == VmaKind::File && flags.shared && flags.write; }
    // vma_wants_manual_pte_write_upgrade: change_protection may make entries writable itself
    // (MM_CP_TRY_CHANGE_WRITABLE) in a private writable mapping, or in a shared one that
    // write-notifies (elsewhere the new vm_page_prot is already writable, or nothing is).
    bool wants_manual_pte_write_upgrade() const { return flags.shared ? wants_writenotify() : flags.write; }
    // VMA_ANON with private semantics for COW (a private file mapping is COW too).
    bool is_cow() const { return !flags.shared && flags.write; }
    // Whether a wp marker is needed on none entries (file-backed, or WP_UNPOPULATED anon).
    bool uffd_wp_use_markers(bool wp_unpopulated) const {
        return flags.uffd_wp && (kind != VmaKind::Anon || flags.shared || wp_unpopulated);
    }
    // text: file-backed and executable; file: other file mappings; anon: private anonymous
    // memory other than heap and stack; shared: shared anonymous memory (shmem); special:
    // [vdso], [vvar] and driver pfn maps.
    VmaClass vma_class() const {
        if (flags.special || pfnmap()) return VmaClass::Special;
        if (flags.growsdown) return VmaClass::Stack;
        if (flags.heap) return VmaClass::Heap;
        if (shmem() || (flags.shared && kind == VmaKind::Anon)) return VmaClass::Shared;
        if (kind == VmaKind::File) return flags.exec ? VmaClass::Text : VmaClass::File;
        return VmaClass::Anon;
    }
};

struct Mm {
    unsigned id = 0;           // process id of the script (0: the first process)
    std::uint64_t pgd_pa = 0;  // TTBR0
    std::uint16_t asid = 0;
    bool user = true;          // mm_is_user(): false for init_mm and efi_mm
    bool efi = false;          // efi_mm
    std::map<std::uint64_t, Vma> vmas;  // by start address
    // userfaultfd context features of this mm.
    bool uffd_wp_async = false;
    bool uffd_wp_unpopulated = false;
    // Reclaim left a batched TLB flush outstanding (arch_tlbbatch), see
    // flush_tlb_batched_pending.
    bool tlb_flush_batched = false;
    // PTE tables kept aside for PMD-mapped THPs (pgtable_trans_huge_deposit), by the PMD's
    // VA: a split takes it back instead of allocating.
    std::map<std::uint64_t, std::uint64_t> deposited;
    // The heap (mm->start_brk, mm->brk); 0 until known: the [heap] mapping of a trace, or the
    // trace's first brk(0).
    std::uint64_t start_brk = 0;
    std::uint64_t brk = 0;

    const Vma* find_vma(std::uint64_t va) const {
        auto it = vmas.upper_bound(va);
        if (it == vmas.begin()) return nullptr;
        --it;
        return it->second.contains(va) ? &it->second : nullptr;
    }
    Vma* find_vma(std::uint64_t va) {
        auto it = vmas.upper_bound(va);
        if (it == vmas.begin()) return nullptr;
        --it;
        return it->second.contains(va) ? &it->second : nullptr;
    }
};

}  // namespace mmusim::kernel
