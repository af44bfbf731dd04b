// A kernel operation requested by a workload thread: the system calls of spec/kernel.md §6
// (mmap, munmap, mprotect, madvise, fork, exit, userfaultfd), and the kernel-internal work a
// script may trigger (reclaim aging, kernel-mapping updates). The fields mirror the system
// call arguments; the Kernel answers with 0 or a negative errno, as Linux does.
#pragma once

#include <cstdint>
#include <string>

namespace mmusim::kernel {

enum class SyscallOp : std::uint8_t {
    Mmap,
    Munmap,
    Mprotect,
    Madvise,
    Fork,         // the calling process forks; the child gets process id `child`
    Exit,         // process `process` exits (its address space is torn down)
    UffdRegister,    // UFFDIO_REGISTER over [addr, addr + len)
    UffdUnregister,  // UFFDIO_UNREGISTER
    UffdWriteprotect,  // UFFDIO_WRITEPROTECT: `protect` sets or clears write protection
    Reclaim,      // reclaim aging of [addr, addr + len): clear the access flag of mapped pages
    KernelMap,    // a vmalloc-like update of `pages` kernel PTEs (apply_to_page_range)
    Spawn,        // clone(CLONE_VM): thread `child` of the workload starts running on its core
    NumaScan,     // the NUMA balancing scan of [addr, addr + len) (change_prot_numa)
    Mremap,       // mremap(addr, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, new_addr)
    Migrate,      // page migration of the folios mapped in [addr, addr + len) to new folios
    Brk,          // brk(addr): the heap's break moves to `new_addr` (the traced result)
};

inline const char* syscall_name(SyscallOp op) {
    switch (op) {
        case SyscallOp::Mmap: return "mmap";
        case SyscallOp::Munmap: return "munmap";
        case SyscallOp::Mprotect: return "mprotect";
        case SyscallOp::Madvise: return "madvise";
        case SyscallOp::Fork: return "fork";
        case SyscallOp::Exit: return "exit";
        case SyscallOp::UffdRegister: return "uffd_register";
        case SyscallOp::UffdUnregister: return "uffd_unregister";
        case SyscallOp::UffdWriteprotect: return "uffd_writeprotect";
        case SyscallOp::Reclaim: return "reclaim";
        case SyscallOp::KernelMap: return "kernel_map";
        case SyscallOp::Spawn: return "clone";
        case SyscallOp::NumaScan: return "numa_scan";
        case SyscallOp::Mremap: return "mremap";
        case SyscallOp::Migrate: return "migrate";
        case SyscallOp::Brk: return "brk";
    }
    return "?";
}

// What an mmap creates.
enum class MapKind : std::uint8_t {
    Anon,        // anonymous memory (private or shared)
    File,        // a file in the simulated page cache
    Pfnmap,      // a driver mapping filled at mmap time by remap_pfn_range
    HugePfnmap,  // a driver mapping filled at fault time with PMD-sized special entries
};

// The advices the model acts on, and those that change no page table and no VMA flag the model
// keeps (WillNeed to KeepOnFork: counted, nothing done; KSM and core dumps are not modelled,
// and a trace is one process, so WIPEONFORK has no fork to act on).
enum class Advice : std::uint8_t {
    DontNeed, Free, HugePage, NoHugePage, DontFork, DoFork, Collapse, PageOut,
    WillNeed, Normal, Random, Sequential, DontDump, DoDump, Mergeable, Unmergeable, WipeOnFork, KeepOnFork,
};

inline const char* advice_name(Advice a) {
    switch (a) {
        case Advice::DontNeed: return "dontneed";
        case Advice::Free: return "free";
        case Advice::HugePage: return "hugepage";
        case Advice::NoHugePage: return "nohugepage";
        case Advice::DontFork: return "dontfork";
        case Advice::DoFork: return "dofork";
        case Advice::Collapse: return "collapse";
        case Advice::PageOut: return "pageout";
        case Advice::WillNeed: return "willneed";
        case Advice::Normal: return "normal";
        case Advice::Random: return "random";
        case Advice::Sequential: return "sequential";
        case Advice::DontDump: return "dontdump";
        case Advice::DoDump: return "dodump";
        case Advice::Mergeable: return "mergeable";
        case Advice::Unmergeable: return "unmergeable";
        case Advice::WipeOnFork: return "wipeonfork";
        case Advice::KeepOnFork: return "keeponfork";
    }
    return "?";
}

// PROT_* bits.
constexpr unsigned kProtRead = 1, kProtWrite = 2, kProtExec = 4;

struct Syscall {
    SyscallOp op = SyscallOp::Mmap;
    unsigned process = 0;     // the calling process: 0 is the initial one, fork children 1, 2...
    std::uint64_t addr = 0;   // start VA (page aligned for the real calls; checked by the kernel)
    std::uint64_t len = 0;    // bytes

    // mmap (always at `addr`, like MAP_FIXED_NOREPLACE: the script lays out its regions).
    MapKind kind = MapKind::Anon;
    unsigned prot = kProtRead | kProtWrite;
    bool shared = false;              // MAP_SHARED (else MAP_PRIVATE)
    unsigned file = 0;                // File: which simulated file (files are per run, by number)
    std::uint64_t file_offset = 0;    // File: offset of `addr` in the file, page aligned
    std::uint64_t file_folio = 0;     // File: page-cache folio size in bytes (0: the base page)
    std::uint64_t pfn_offset = 0;     // Pfnmap/HugePfnmap: offset of the device memory, bytes

    // madvise
    Advice advice = Advice::DontNeed;

    // mremap: where the range moves to (page aligned; the length stays `len` unless
    // `new_len` is set). Brk: the new break (the traced result).
    std::uint64_t new_addr = 0;
    std::uint64_t new_len = 0;        // mremap: the new length (0: `len`, a move of the same size)

    // Calls of a trace (workload.layout "trace"): the real call's arguments and result.
    bool traced = false;
    std::int64_t traced_result = 0;   // what the traced kernel answered: >= 0, or -errno
    bool fixed = false;               // mmap: MAP_FIXED (what was mapped there is unmapped first)
    std::string file_path;            // mmap of a file: its path (one page cache per path)

    // fork: process id the child gets.
    unsigned child = 0;

    // userfaultfd
    bool uffd_missing = false;        // UFFDIO_REGISTER_MODE_MISSING
    bool uffd_wp = false;             // UFFDIO_REGISTER_MODE_WP
    bool uffd_async = false;          // UFFD_FEATURE_WP_ASYNC: write faults resolve in the kernel
    bool uffd_wp_unpopulated = false; // UFFD_FEATURE_WP_UNPOPULATED: markers on none entries
    bool protect = true;              // UffdWriteprotect: set (true) or clear write protection

    // KernelMap
    std::uint64_t pages = 0;
    bool in_interrupt = false;        // run the update from interrupt context

    // Where the request came from, for messages (e.g. "workload.script.ops[3]").
    std::string origin;
};

// The operation kind under which kernel.by_op counts a call: its name, and for madvise the
// advice, e.g. "madvise(dontneed)".
inline std::string op_name(const Syscall& call) {
    std::string name = syscall_name(call.op);
    if (call.op == SyscallOp::Madvise) name += std::string("(") + advice_name(call.advice) + ")";
    return name;
}

}  // namespace mmusim::kernel
