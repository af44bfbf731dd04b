// The Linux arm64 kernel model as a SystemC module: Cores call it (page faults, system calls,
// context switches) through `socket`; it reads and writes page tables in PhysMem through
// `mem_socket` and sends TLBIs to the DVM fabric through `dvm_socket`. It owns the processes'
// address spaces and the kernel's own page tables.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <vector>
#include <memory>

#include <spdlog/spdlog.h>

#include <systemc>
#include <tlm>
#include <tlm_utils/simple_initiator_socket.h>
#include <tlm_utils/multi_passthrough_target_socket.h>

#include "models/common/smp.h"
#include "models/kernel/fault.h"
#include "models/kernel/kernel_call_ext.h"
#include "models/kernel/folio_allocator.h"
#include "models/kernel/fold_scanner.h"
#include "models/kernel/kernel_config.h"
#include "models/kernel/kernel_context.h"
#include "models/kernel/kernel_mappings.h"
#include "models/kernel/kernel_stats.h"
#include "models/kernel/lazy_mmu.h"
#include "models/kernel/mm.h"
#include "models/kernel/mm_ops.h"
#include "models/kernel/op_checker.h"
#include "models/kernel/page_alloc.h"
#include "models/kernel/page_cache.h"
#include "models/kernel/pgtable.h"
#include "models/kernel/pgtable_alloc.h"
#include "models/kernel/pte_memory.h"
#include "models/kernel/rmap.h"
#include "models/kernel/syscall.h"
#include "models/kernel/tlb_flush.h"

namespace mmusim::kernel {

class Timeline;

class Kernel : public sc_core::sc_module, public VmaClassLookup, private TableObserver {
public:
    tlm_utils::multi_passthrough_target_socket<Kernel> socket;  // every core binds here
    tlm_utils::simple_initiator_socket<Kernel> mem_socket;
    tlm_utils::simple_initiator_socket<Kernel> dvm_socket;

    Kernel(sc_core::sc_module_name name, const KernelConfig& config);
    ~Kernel() override;

    // Creates process 0's address space: a PGD and, with `auto_layout`, one anonymous
    // private read/write/exec VMA over all user addresses (layout "auto"); a script starts
    // empty. Call after the sockets are bound.
    Mm& create_user_mm(std::uint16_t asid, bool auto_layout = true);
    // Layout "trace": the traced process's address space at exec, as VMAs of process 0.
    void install_initial_mappings(const std::vector<InitialMapping>& maps);

    const KernelConfig& config() const { return m_config; }
    // Multi-core runs: the cores' shared state. The kernel then serialises calls (a call of
    // another core waits while one is in progress), and waits at each observable point (an
    // inner-shareable DSB, a store of a convert's make phase) so that the other cores run up
    // to that time and see the page tables half-way through the operation.
    void set_smp(SmpState* smp);
    // Records the kernel's events in `timeline` (null: none), which must outlive the run.
    void set_timeline(Timeline* timeline);
    // Calls `checker` after every operation that returns (null: none); it must outlive the run.
    void set_checker(OpChecker* checker) { m_checker = checker; }
    const KernelStats& stats() const { return m_stats; }
    const LazyMmuStats& lazy_stats() const { return m_lazy.stats(); }
    Mm& mm(unsigned process = 0);
    bool has_process(unsigned process) const { return m_processes.count(process) != 0; }
    const std::map<unsigned, std::unique_ptr<Mm>>& processes() const { return m_processes; }
    // init_mm, once the kernel has started (null before).
    const Mm* init_mm() const { return m_kmap ? &m_kmap->init_mm() : nullptr; }

    // One pass of the background fold scanner (fold_policy "scanner"), counted as "fold_scan".
    void fold_scan();
    // A system call of `call.process`, counted under its operation kind: 0 or -errno.
    int syscall(const Syscall& call);
    // Resolves a fault of `process` (throws KernelError when the process would die).
    const char* fault(unsigned process, const FaultRequest& request);

    // The kind of the VMA of `process` holding `va` (VmaClass::Count: none, or no such
    // process), for the cores' attribution of TLB misses; takes no time, counts nothing.
    VmaClass vma_class(unsigned process, std::uint64_t va) const override;
    // The pages every user process maps at this moment, by the kind of the VMA holding each
    // (kernel.by_vma pages and cont_pages): one walk of the tables with uncounted reads, for
    // the statistics at the end of a run.
    std::array<MappedPages, kVmaClassCount> mapped_pages_by_vma();

    // Building blocks, for tests and for operations driven outside a fault.
    Pgtable& pgtable() { return m_pgtable; }
    PgtableAlloc& tables() { return m_tables; }
    TlbFlush& tlb_flush() { return m_flush; }
    LazyMmu& lazy() { return m_lazy; }
    FolioAllocator& folios() { return m_folios; }
    PageAlloc& page_alloc() { return *m_pages; }
    Rmap& rmap() { return m_rmap; }
    const SwapInfo& swap() const { return m_swap; }
    FaultHandler& faults() { return *m_faults; }
    MmOps& ops() { return *m_ops; }
    KernelMappings& kernel_mappings() { return *m_kmap; }
    std::uint64_t zero_pfn() const { return m_ctx.zero_pfn; }
    std::uint64_t huge_zero_pfn() const { return m_ctx.huge_zero_pfn; }
    // The leaf entry that maps `va` in `mm`, read from the tables without counting: a page
    // descriptor or entry at level 3, a block at a higher level, or what stands at the level
    // where the walk found no table (0 when nothing does); `pa` is that entry's address.
    struct Leaf {
        arch::Desc desc = 0;
        unsigned level = 3;
        std::uint64_t pa = 0;
    };
    Leaf peek_leaf(const Mm& mm, std::uint64_t va);
    // Time spent by the kernel operations run since the last call (then reset).
    sc_core::sc_time take_delay();

    // Per-operation accounting: the events between begin and end go to `by_op[name]`.
    void op_begin();
    void op_end(const std::string& name, const char* result = nullptr);

private:
    void b_transport(int initiator, tlm::tlm_generic_payload& trans, sc_core::sc_time& delay);
    int dispatch(const Syscall& call);
    void start();  // what needs the bound sockets: kernel page tables
    // Multi-core: take the kernel for `core`, waiting while another core's call holds it. A
    // page fault first makes the lockless read of handle_pte_fault (which takes no lock).
    void acquire(const KernelCallExt& call, sc_core::sc_time& delay);
    void release(sc_core::sc_time& delay);
    void lockless_read_at_entry(const KernelCallExt& call);
    void observable_point() override;
    // The PTE address of `va` in `mm`, found by reading the tables without counting (0: none).
    std::uint64_t peek_pte_address(const Mm& mm, std::uint64_t va);
    // mapped_pages_by_vma over one table of `mm` at `level` that maps from `va` on.
    void count_mapped_pages(const Mm& mm, std::uint64_t table, unsigned level, std::uint64_t va,
                            std::array<MappedPages, kVmaClassCount>& out);

    KernelConfig m_config;
    KernelStats m_stats;
    sc_core::sc_time m_delay;  // time of the current kernel call
    FolioAllocator m_folios;
    PteMemory m_mem;
    TlbFlush m_flush;
    LazyMmu m_lazy;
    Pgtable m_pgtable;
    PgtableAlloc m_tables;
    Rmap m_rmap;
    PageCache m_page_cache;
    SwapInfo m_swap;
    KernelContext m_ctx;
    std::unique_ptr<KernelMappings> m_kmap;
    std::unique_ptr<PageAlloc> m_pages;
    std::unique_ptr<MmOps> m_ops;
    std::unique_ptr<FaultHandler> m_faults;
    std::unique_ptr<FoldScanner> m_scanner;
    std::map<unsigned, std::unique_ptr<Mm>> m_processes;
    OpStats m_op_start;
    sc_core::sc_time m_op_start_delay;
    std::shared_ptr<spdlog::logger> m_log;

    // Multi-core.
    SmpState* m_smp = nullptr;
    int m_owner = -1;                  // the core whose call holds the kernel, -1: none
    bool m_owner_in_fault = false;     // it handles a fault or a NUMA scan (no mmap lock held for writing)
    unsigned m_waiters = 0;            // calls waiting for the kernel
    sc_core::sc_event m_released;      // the kernel became free
    sc_core::sc_event m_progress;      // the holder passed a synchronisation point or left
    sc_core::sc_time* m_call_delay = nullptr;  // the calling core's local time offset, during a call
    sc_core::sc_time m_synced;         // the part of m_delay already spent waiting
    unsigned m_call_core = 0;

    Timeline* m_timeline = nullptr;
    OpChecker* m_checker = nullptr;
};

}  // namespace mmusim::kernel
