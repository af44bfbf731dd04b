#include "sim/guest_plan.h"

#include <algorithm>
#include <map>
#include <set>
#include <sstream>
#include <utility>
#include <vector>

#include "models/arch/granule.h"
#include "models/arch/sizes.h"
#include "models/kernel/kernel_error.h"
#include "sim/config_error.h"
#include "sim/run.h"
#include "workloads/record.h"

namespace mmusim::sim {

namespace {

using kernel::hex;

// A name as one plan token: letters, digits, '.', '_' and '-' kept, anything else '_'.
std::string token(const std::string& name) {
    std::string out = name;
    for (char& c : out) {
        const bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
        if (!keep) c = '_';
    }
    return out;
}

std::string prot_letters(unsigned prot) {
    if (prot == 0) return "none";
    std::string s;
    if ((prot & kernel::kProtRead) != 0) s += 'r';
    if ((prot & kernel::kProtWrite) != 0) s += 'w';
    if ((prot & kernel::kProtExec) != 0) s += 'x';
    return s;
}

class PlanWriter {
public:
    explicit PlanWriter(const RunConfig& config) : m_config(config) {}

    std::string write();

private:
    [[noreturn]] void refuse(const std::string& what) const {
        throw ConfigError(m_config.source + ": linux-check cannot run this config on Linux: " + what);
    }
    void check_kernel_settings() const;
    void sysfs_lines();
    void syscall_line(const kernel::Syscall& sc);
    void check_reclaim(const kernel::Syscall& sc, const std::string& at) const;
    std::uint64_t largest_folio_at(std::uint64_t va) const;
    void access(const workloads::Record& r);
    void flush_run();
    void line(const std::string& text) {
        if (++m_lines > kGuestPlanMaxLines)
            refuse("the plan has more than " + std::to_string(kGuestPlanMaxLines) + " lines (system calls, access runs and "
                   "checkpoints, loops expanded); the guest runs it under emulation: shorten the script's loops");
        m_out << text << '\n';
    }

    struct Run {
        unsigned process = 0;
        workloads::AccessKind kind = workloads::AccessKind::Load;
        std::uint32_t size = 0;
        std::uint64_t va = 0, delta = 0, count = 0;
    };

    const RunConfig& m_config;
    std::ostringstream m_out;
    std::uint64_t m_lines = 0;
    std::uint64_t m_accesses = 0;
    unsigned m_checkpoints = 0;
    Run m_run;
    std::set<unsigned> m_live{0};  // the running processes, as the script forks and exits them
    // Ranges given MADV_HUGEPAGE or MADV_COLLAPSE so far: where kernel.thp "madvise" (or, for
    // MADV_COLLAPSE, "never") can map a PMD-sized folio.
    std::vector<std::pair<std::uint64_t, std::uint64_t>> m_huge_advised;
};

void PlanWriter::check_kernel_settings() const {
    const kernel::KernelConfig& k = m_config.kernel;
    if (k.fault_around_bytes != 65536)
        refuse("kernel.fault_around is " + arch::size_name(k.fault_around_bytes) + "; the guest's kernel keeps its default, 64K");
    if (k.granule != arch::Granule::K4)
        refuse("kernel.granule is " + std::string(arch::granule_name(k.granule)) + " and the booted arm64 kernel uses 4K pages");
    if (!k.contpte) refuse("kernel.contpte is false, and the booted kernel has contpte (CONFIG_ARM64_CONTPTE=y) always on");
    if (k.fold_policy != kernel::FoldPolicy::Linux)
        refuse("kernel.fold_policy is \"" + std::string(kernel::fold_policy_name(k.fold_policy)) +
               "\"; Linux folds by its own rule (fold_policy \"linux\")");
    if (k.fragmentation > 0.0) refuse("kernel.fragmentation is above 0; the guest cannot make its allocations fail the same way");
    if (!k.zero_page) refuse("kernel.zero_page is false; Linux on arm64 always maps the zero page on a read fault");
    if (k.exec_folio_order >= 0)
        refuse("kernel.exec_folios is set; it stands for page-cache code read ahead, which anonymous memory on Linux does not have");
    // kernel.debug_pagealloc changes only the linear map (the kernel's own tables), which
    // linux-check does not compare: the guest's kernel runs without it.
    for (const std::vector<unsigned>* list : {&k.mthp_orders, &k.mthp_madvise_orders, &k.mthp_inherit_orders})
        for (const unsigned order : *list)
            if (order < 2)
                refuse("an mTHP size of " + arch::size_name(std::uint64_t{4096} << order) +
                       " is enabled; Linux has no anonymous mTHP below 16K (THP_ORDERS_ALL_ANON starts at order 2)");
    const WorkloadConfig& w = m_config.workload;
    if (!w.is_script)
        refuse("its workload is a " + std::string(w.is_trace ? "trace" : "generator") +
               "; the guest performs workload scripts (workload.script) only");
    if (!w.script->threads.empty())
        refuse("workload.script.threads: a script with several threads depends on multi-core timing, which a one-CPU guest "
               "does not reproduce");
}

void PlanWriter::sysfs_lines() {
    const kernel::KernelConfig& k = m_config.kernel;
    const std::string thp = "/sys/kernel/mm/transparent_hugepage";
    const char* mode = k.thp == kernel::KernelConfig::Thp::Always ? "always" : k.thp == kernel::KernelConfig::Thp::Madvise ? "madvise" : "never";
    line(std::string("sysfs ") + thp + "/enabled " + mode);
    // Every anonymous mTHP size of the 4K granule (orders 2 to 8), and the PMD size following
    // the top-level mode as kernel.thp does.
    for (unsigned order = 2; order < 9; ++order) {
        const auto in = [order](const std::vector<unsigned>& v) { return std::find(v.begin(), v.end(), order) != v.end(); };
        const char* m = in(k.mthp_orders) ? "always" : in(k.mthp_madvise_orders) ? "madvise" : in(k.mthp_inherit_orders) ? "inherit" : "never";
        line("sysfs " + thp + "/hugepages-" + std::to_string(4u << order) + "kB/enabled " + m);
    }
    line("sysfs " + thp + "/hugepages-2048kB/enabled inherit");
    line("sysfs " + thp + "/use_zero_page 1");
    // khugepaged would collapse ranges behind the script's back: it sleeps for the whole run.
    line("sysfs " + thp + "/khugepaged/scan_sleep_millisecs 4294967295");
    line("sysfs " + thp + "/khugepaged/alloc_sleep_millisecs 4294967295");
}

void PlanWriter::syscall_line(const kernel::Syscall& sc) {
    using kernel::SyscallOp;
    const std::string op = "op " + std::to_string(sc.process) + " ";
    const std::string range = hex(sc.addr) + " " + hex(sc.len);
    const std::string at = " (" + sc.origin + ")";
    switch (sc.op) {
        case SyscallOp::Mmap:
            if (sc.kind == kernel::MapKind::Pfnmap || sc.kind == kernel::MapKind::HugePfnmap)
                refuse("an mmap of type \"" + std::string(sc.kind == kernel::MapKind::Pfnmap ? "pfnmap" : "huge_pfnmap") + "\"" + at +
                       "; the model's device memory has no counterpart in the guest");
            if (sc.kind == kernel::MapKind::File) {
                // The guest's files live on tmpfs. On the booted 6.12 a tmpfs file's page cache
                // holds base pages (PMD-sized folios only with huge=), and a shared
                // writable tmpfs mapping is writable from its first fault (tmpfs does not
                // track dirty pages through write faults, unlike the file system the model's
                // files stand for).
                if (sc.file_folio > 4096)
                    refuse("a file mapping with file_folio " + arch::size_name(sc.file_folio) + at +
                           "; the guest's files are on tmpfs, whose page cache holds base pages on Linux 6.12 (the guest mounts it "
                           "without huge=)");
                if (sc.shared && (sc.prot & kernel::kProtWrite) != 0)
                    refuse("a shared writable file mapping" + at +
                           "; the guest's files are on tmpfs, which does not write-protect clean pages the way the model's "
                           "file system does");
                line(op + "mmap " + range + " " + prot_letters(sc.prot) + (sc.shared ? " shared" : " private") + " file " +
                     std::to_string(sc.file) + " " + hex(sc.file_offset));
                return;
            }
            line(op + "mmap " + range + " " + prot_letters(sc.prot) + (sc.shared ? " shared" : " private"));
            return;
        case SyscallOp::Munmap: line(op + "munmap " + range); return;
        case SyscallOp::Mprotect: line(op + "mprotect " + range + " " + prot_letters(sc.prot)); return;
        case SyscallOp::Madvise:
            if ((sc.advice == kernel::Advice::HugePage && m_config.kernel.thp == kernel::KernelConfig::Thp::Madvise) ||
                sc.advice == kernel::Advice::Collapse)
                m_huge_advised.emplace_back(sc.addr, sc.addr + sc.len);
            line(op + "madvise " + range + " " + kernel::advice_name(sc.advice));
            return;
        case SyscallOp::Fork:
            m_live.insert(sc.child);
            line(op + "fork " + std::to_string(sc.child));
            return;
        case SyscallOp::Exit:
            m_live.erase(sc.process);
            line(op + "exit");
            return;
        case SyscallOp::UffdRegister:
            line(op + "uffd_register " + range + " missing=" + (sc.uffd_missing ? "1" : "0") + " wp=" + (sc.uffd_wp ? "1" : "0") +
                 " async=" + (sc.uffd_async ? "1" : "0") + " wp_unpopulated=" + (sc.uffd_wp_unpopulated ? "1" : "0"));
            return;
        case SyscallOp::UffdUnregister: line(op + "uffd_unregister " + range); return;
        case SyscallOp::UffdWriteprotect: line(op + "uffd_wp " + range + " " + (sc.protect ? "1" : "0")); return;
        case SyscallOp::Mremap:
            if (sc.new_len != 0 && sc.new_len != sc.len) refuse("an mremap that changes the length" + at);
            line(op + "mremap " + range + " " + hex(sc.new_addr));
            return;
        // Kernel work a program can start. Reclaim's aging of the access flags (folio_referenced
        // on the calling process's entries) is madvise(MADV_COLD) in the guest: the booted
        // kernel has no idle page tracking (/sys/kernel/mm/page_idle/bitmap). In 6.12
        // madvise_cold_or_pageout_pte_range clears the access flags as the aging does
        // (clear_young_dirty_ptes with CYDP_CLEAR_YOUNG, a whole contpte block at once;
        // pmdp_invalidate and pmd_mkold for a PMD leaf) and deactivates the folios, which no
        // page table shows. It differs in two ways the page states show: it leaves alone a
        // folio that more than one process maps (folio_mapcount != folio_nr_pages,
        // folio_likely_mapped_shared), and it splits a large folio that the range, clipped to
        // each VMA, covers only partly (split_folio), then ages the pages in the range. So a
        // reclaim while more than one process runs is refused, and so is one whose range
        // starts or ends inside a folio the config can map there (check_reclaim). A folio
        // that earlier calls left partly mapped (partial munmap, MADV_DONTNEED or mremap) or
        // split across two VMAs (partial mprotect) is not known here: linux-check shows the
        // split as a difference.
        // Migration is move_pages(2) to the other NUMA node of a two-node machine.
        case SyscallOp::Reclaim:
            check_reclaim(sc, at);
            line(op + "reclaim " + range);
            return;
        case SyscallOp::Migrate: line(op + "migrate " + range); return;
        // A vmalloc cycle changes only the kernel's own tables, which are not compared: the
        // guest has nothing to do.
        case SyscallOp::KernelMap: return;
        case SyscallOp::Spawn:
        case SyscallOp::NumaScan:
        case SyscallOp::Brk:
            break;
    }
    refuse("op \"" + std::string(kernel::syscall_name(sc.op)) + "\"" + at +
           " is kernel-internal work that a user program cannot start on its own");
}

// The largest folio the config can map over `va`: the largest anonymous mTHP size enabled in
// any mode, and the PMD size where kernel.thp "always" maps it anywhere, or where the script
// gave MADV_HUGEPAGE (kernel.thp "madvise") or MADV_COLLAPSE (any kernel.thp) to part of the
// PMD-aligned range around va.
std::uint64_t PlanWriter::largest_folio_at(std::uint64_t va) const {
    const kernel::KernelConfig& k = m_config.kernel;
    std::uint64_t largest = arch::geometry(k.granule).page_size();
    for (const std::vector<unsigned>* list : {&k.mthp_orders, &k.mthp_madvise_orders, &k.mthp_inherit_orders})
        for (const unsigned order : *list) largest = std::max(largest, arch::geometry(k.granule).page_size() << order);
    const std::uint64_t pmd = arch::geometry(k.granule).pmd_size();
    bool pmd_possible = k.thp == kernel::KernelConfig::Thp::Always;
    const std::uint64_t block = va & ~(pmd - 1);
    for (const auto& [start, end] : m_huge_advised)
        if (start < block + pmd && block < end) pmd_possible = true;
    return pmd_possible ? std::max(largest, pmd) : largest;
}

void PlanWriter::check_reclaim(const kernel::Syscall& sc, const std::string& at) const {
    if (m_live.size() > 1)
        refuse("op \"reclaim\"" + at + " runs while " + std::to_string(m_live.size()) +
               " processes run: the guest ages with madvise(MADV_COLD), which leaves alone every folio that more than "
               "one process maps (as fork leaves them until copy-on-write or exit), and the model's aging clears the "
               "access flags of the calling process's entries of shared folios too");
    const workloads::Script& script = *m_config.workload.script;
    const auto region_edge = [&script](std::uint64_t va) {
        for (const workloads::ScriptRegion& r : script.regions)
            if (va == r.addr || va == r.addr + r.size) return true;
        return false;
    };
    const std::uint64_t end = sc.addr + sc.len;
    for (const std::uint64_t edge : {sc.addr, end}) {
        // A folio never reaches past its VMA, and a region's mappings end at its edges (the
        // script maps each region by its own calls, and places regions apart).
        if (region_edge(edge)) continue;
        // The folio that would straddle an end lies just below it.
        const std::uint64_t folio = largest_folio_at(edge == end ? edge - 1 : edge);
        if (edge % folio != 0)
            refuse("op \"reclaim\"" + at + ": its range " + hex(sc.addr) + "-" + hex(end) + (edge == sc.addr ? " starts" : " ends") +
                   " at " + hex(edge) + ", inside a " + arch::size_name(folio) +
                   " folio this config can map there; the guest ages with madvise(MADV_COLD), which splits a large folio that "
                   "its range covers only partly, and the model's aging does not: align the range to " + arch::size_name(folio));
    }
}

void PlanWriter::flush_run() {
    if (m_run.count == 0) return;
    const char* kind = m_run.kind == workloads::AccessKind::Ifetch ? "ifetch" : m_run.kind == workloads::AccessKind::Load ? "load" : "store";
    line("run " + std::to_string(m_run.process) + " " + kind + " " + std::to_string(m_run.size) + " " + hex(m_run.va) + " " +
         hex(m_run.delta) + " " + std::to_string(m_run.count));
    m_run.count = 0;
}

void PlanWriter::access(const workloads::Record& r) {
    if (++m_accesses > kGuestPlanMaxAccesses)
        refuse("the script makes more than " + std::to_string(kGuestPlanMaxAccesses) +
               " accesses; the guest runs them under emulation: lower the access counts or loop counts");
    const workloads::AccessKind kind = r.kind == workloads::AccessKind::Modify ? workloads::AccessKind::Store : r.kind;
    Run& run = m_run;
    if (run.count != 0 && run.process == r.process && run.kind == kind && run.size == r.size) {
        const std::uint64_t delta = r.va - run.va;  // modulo 2^64, as the guest computes it
        if (run.count == 1) {
            run.delta = delta;
            run.count = 2;
            return;
        }
        if (run.va + run.count * run.delta == r.va) {
            ++run.count;
            return;
        }
    }
    flush_run();
    m_run = Run{r.process, kind, r.size, r.va, 0, 1};
}

std::string PlanWriter::write() {
    check_kernel_settings();
    const workloads::Script& script = *m_config.workload.script;
    m_out << "mmusim-guest-plan 1\n";
    sysfs_lines();
    bool pageout = false, migrate = false;
    for (const kernel::Syscall& sc : script.syscalls) {
        pageout = pageout || (sc.op == kernel::SyscallOp::Madvise && sc.advice == kernel::Advice::PageOut);
        migrate = migrate || sc.op == kernel::SyscallOp::Migrate;
    }
    // A swap device only for a script that pages out (setting it up takes the guest time),
    // and two NUMA nodes only for one that migrates.
    if (pageout && m_config.kernel.swap_bytes != 0) {
        if (!m_config.kernel.swap_synchronous)
            refuse("kernel.swap.device is \"disk\"; the guest swaps to zram (kernel.swap.device \"zram\")");
        line("swap zram " + hex(m_config.kernel.swap_bytes));
    }
    if (migrate) line("numa 2");
    // The files the script maps, each as long as its furthest mapping reaches.
    std::map<unsigned, std::uint64_t> files;
    for (const kernel::Syscall& sc : script.syscalls)
        if (sc.op == kernel::SyscallOp::Mmap && sc.kind == kernel::MapKind::File)
            files[sc.file] = std::max(files[sc.file], sc.file_offset + ((sc.len + 4095) & ~std::uint64_t{4095}));
    for (const auto& [file, size] : files) line("file " + std::to_string(file) + " " + hex(size));
    for (const workloads::ScriptRegion& r : script.regions) line("region " + token(r.name) + " " + hex(r.addr) + " " + hex(r.size));
    std::unique_ptr<workloads::Source> source = open_workload(m_config);
    std::vector<workloads::Record> batch(4096);
    for (std::size_t n; (n = source->next(batch.data(), batch.size())) != 0;) {
        for (std::size_t i = 0; i < n; ++i) {
            const workloads::Record& r = batch[i];
            if (r.kind == workloads::AccessKind::Kernel) {
                flush_run();
                syscall_line(*source->syscall(r.va));
            } else if (r.kind == workloads::AccessKind::Checkpoint) {
                flush_run();
                line("checkpoint " + std::to_string(m_checkpoints++) + " " + token(script.checkpoints.at(r.va).name));
            } else {
                access(r);
            }
        }
    }
    flush_run();
    m_out << "end\n";
    return m_out.str();
}

}  // namespace

std::string guest_plan_text(const RunConfig& config) { return PlanWriter(config).write(); }

}  // namespace mmusim::sim
