#include "models/kernel/kernel.h"

#include <algorithm>

#include "models/arch/descriptor.h"
#include "models/arch/granule.h"
#include "models/common/cycles.h"
#include "models/common/log.h"
#include "models/kernel/kernel_call_ext.h"
#include "models/kernel/kernel_error.h"
#include "models/kernel/pte.h"
#include "models/kernel/timeline.h"

namespace mmusim::kernel {

using namespace arch::bits;

namespace {
unsigned max_buddy_order(const arch::Geometry& geo) {
    // Linux arm64 MAX_PAGE_ORDER: 10 with 4K pages, enough for a PMD folio with 16K and 64K.
    return std::max(10u, geo.pmd_order());
}

// The scalar events of the counters, for per-operation differences.
OpStats snapshot(const KernelStats& s, const LazyMmuStats& lazy, sc_core::sc_time delay) {
    OpStats o;
    o.R = s.pte_R;
    o.W = s.pte_W;
    o.X = s.pte_X;
    o.C = s.pte_C;
    o.converts = s.converts;
    o.folds = s.folds;
    o.unfolds = s.unfolds;
    o.tlbi = s.tlbi;
    o.tlbi_local = s.tlbi_local;
    o.tlbi_broadcast = s.tlbi_broadcast;
    o.barriers = s.barriers;
    o.lazy_deferred = lazy.deferred;
    o.cycles = time_to_cycles(delay);
    return o;
}
}  // namespace

Kernel::Kernel(sc_core::sc_module_name name, const KernelConfig& config)
    : sc_core::sc_module(name), socket("socket"), mem_socket("mem_socket"), dvm_socket("dvm_socket"),
      m_config(config),
      m_folios(config.memory_bytes >> arch::geometry(config.granule).page_shift, max_buddy_order(arch::geometry(config.granule))),
      m_mem(mem_socket, m_stats, m_config.costs, m_delay),
      m_flush(dvm_socket, m_stats, m_config, m_delay),
      m_lazy(m_flush, m_config.lazy_mmu),
      m_pgtable(m_config, m_stats, m_mem, m_flush, m_lazy, m_folios),
      m_tables(m_config, m_stats, m_mem, m_lazy, m_folios, mem_socket, m_delay),
      m_swap(config.swap_bytes >> arch::geometry(config.granule).page_shift, arch::geometry(config.granule).ptrs_per_table()),
      m_ctx{m_config, arch::geometry(m_config.granule), m_stats, m_mem, m_flush, m_lazy, m_pgtable, m_tables,
            m_folios, m_rmap, m_page_cache, m_swap, m_delay} {
    socket.register_b_transport(this, &Kernel::b_transport);
    m_log = logger("kernel");
    // The shared zero page is reserved at boot and never freed; it is not a user folio.
    const std::optional<Folio> zero = m_folios.alloc(0);
    if (!zero) throw KernelError("out of memory at boot: no page for the zero page");
    m_ctx.zero_pfn = zero->head_pfn;
    // Device memory of pfn maps sits just above RAM: no folio ever covers it.
    m_ctx.device_pfn = config.memory_bytes >> m_ctx.geo.page_shift;
}

Kernel::~Kernel() = default;

void Kernel::start() {
    if (m_kmap) return;
    m_kmap = std::make_unique<KernelMappings>(m_ctx);
    m_pages = std::make_unique<PageAlloc>(m_ctx, *m_kmap);
    m_ops = std::make_unique<MmOps>(m_ctx, *m_pages);
    m_faults = std::make_unique<FaultHandler>(m_ctx, *m_pages, *m_ops);
    m_scanner = std::make_unique<FoldScanner>(m_ctx);
}

Mm& Kernel::create_user_mm(std::uint16_t asid, bool auto_layout) {
    start();
    auto mm = std::make_unique<Mm>();
    mm->id = 0;
    mm->asid = asid;
    mm->user = true;
    mm->pgd_pa = m_tables.pgd_alloc();
    if (auto_layout) {
        // Layout "auto": one anonymous VMA over the whole user range except page 0, which
        // Linux never maps (mmap_min_addr).
        Vma vma;
        vma.start = m_ctx.geo.page_size();
        vma.end = arch::kUserVaEnd;
        vma.page_prot = vm_page_prot(true, true, true, false, false);
        vma.name = "[auto]";
        vma.holds_code = true;
        mm->vmas.emplace(vma.start, vma);
    }
    Mm& ref = *mm;
    m_processes[0] = std::move(mm);
    m_delay = sc_core::SC_ZERO_TIME;
    return ref;
}

void Kernel::install_initial_mappings(const std::vector<InitialMapping>& maps) {
    start();
    m_ops->install_initial_mappings(mm(0), maps);
}

Mm& Kernel::mm(unsigned process) {
    const auto it = m_processes.find(process);
    if (it == m_processes.end()) throw KernelError("process " + std::to_string(process) + " does not exist");
    return *it->second;
}

sc_core::sc_time Kernel::take_delay() {
    const sc_core::sc_time d = m_delay;
    m_stats.cycles += time_to_cycles(d);
    m_delay = sc_core::SC_ZERO_TIME;
    return d;
}

void Kernel::op_begin() {
    m_op_start = snapshot(m_stats, m_lazy.stats(), m_delay);
}

void Kernel::op_end(const std::string& name, const char* result) {
    const OpStats now = snapshot(m_stats, m_lazy.stats(), m_delay);
    OpStats& o = m_stats.by_op[name];
    ++o.calls;
    if (result != nullptr) ++o.results[result];
    o.R += now.R - m_op_start.R;
    o.W += now.W - m_op_start.W;
    o.X += now.X - m_op_start.X;
    o.C += now.C - m_op_start.C;
    o.converts += now.converts - m_op_start.converts;
    o.folds += now.folds - m_op_start.folds;
    o.unfolds += now.unfolds - m_op_start.unfolds;
    for (std::size_t i = 0; i < o.tlbi.size(); ++i) o.tlbi[i] += now.tlbi[i] - m_op_start.tlbi[i];
    o.tlbi_local += now.tlbi_local - m_op_start.tlbi_local;
    o.tlbi_broadcast += now.tlbi_broadcast - m_op_start.tlbi_broadcast;
    for (std::size_t i = 0; i < o.barriers.size(); ++i) o.barriers[i] += now.barriers[i] - m_op_start.barriers[i];
    o.lazy_deferred += now.lazy_deferred - m_op_start.lazy_deferred;
    o.cycles += now.cycles - m_op_start.cycles;
}

int Kernel::dispatch(const Syscall& call) {
    Mm& mm = this->mm(call.process);
    switch (call.op) {
        case SyscallOp::Mmap: return m_ops->mmap(mm, call);
        case SyscallOp::Munmap: return m_ops->munmap(mm, call.addr, call.len);
        case SyscallOp::Mprotect: return m_ops->mprotect(mm, call.addr, call.len, call.prot);
        case SyscallOp::Madvise: return m_ops->madvise(mm, call.addr, call.len, call.advice);
        case SyscallOp::Fork: {
            if (has_process(call.child)) return -err::kEexist;
            m_processes[call.child] = m_ops->fork(mm, call.child, static_cast<std::uint16_t>(call.child + 1));
            return 0;
        }
        case SyscallOp::Exit: {
            m_ops->exit_mmap(mm);
            m_processes.erase(call.process);
            return 0;
        }
        case SyscallOp::UffdRegister: return m_ops->uffd_register(mm, call);
        case SyscallOp::UffdUnregister: return m_ops->uffd_unregister(mm, call.addr, call.len);
        case SyscallOp::UffdWriteprotect: return m_ops->uffd_writeprotect(mm, call.addr, call.len, call.protect);
        case SyscallOp::Reclaim: return m_ops->reclaim(mm, call.addr, call.len);
        case SyscallOp::KernelMap: m_kmap->vmalloc_cycle(call.pages, call.in_interrupt); return 0;
        case SyscallOp::NumaScan: return m_ops->numa_scan(mm, call.addr, call.len);
        case SyscallOp::Mremap:
            return call.traced ? m_ops->mremap_traced(mm, call) : m_ops->mremap(mm, call.addr, call.len, call.new_addr);
        case SyscallOp::Brk: return m_ops->brk(mm, call);
        case SyscallOp::Migrate: return m_ops->migrate(mm, call.addr, call.len);
        case SyscallOp::Spawn:
            // clone(CLONE_VM): a new thread of the process; the caller's core starts it.
            ++m_stats.threads_spawned;
            return 0;
    }
    return -err::kEinval;
}

void Kernel::fold_scan() {
    start();
    op_begin();
    // The scanner thread is switched in and, after its pass, out again: two __switch_to,
    // each with its DSB.ISH.
    m_delay += cycles_to_time(m_config.costs.context_switch);
    m_lazy.context_switch();
    m_scanner->pass(m_processes);
    m_delay += cycles_to_time(m_config.costs.context_switch);
    m_lazy.context_switch();
    op_end("fold_scan");
    if (m_checker != nullptr) m_checker->after_op("fold_scan");
}

int Kernel::syscall(const Syscall& call) {
    start();
    op_begin();
    m_delay += cycles_to_time(m_config.costs.syscall_entry_exit);
    const std::string name = op_name(call);
    if (call.traced && call.traced_result < 0) {
        // A call that failed in the trace: counted under its result, not applied.
        const int r = static_cast<int>(call.traced_result);
        op_end(name, err::name(r));
        return r;
    }
    const int r = dispatch(call);
    op_end(name, err::name(r));
    if (call.traced && r < 0)
        throw KernelError(call.origin + ": " + name + "(" + hex(call.addr) + ", " + hex(call.len) +
                          ") succeeded in the trace (result " + hex(static_cast<std::uint64_t>(call.traced_result)) +
                          ") but the kernel model answers " + err::name(r) +
                          ": the model and the traced kernel disagree about the address space here");
    if (m_checker != nullptr) m_checker->after_op(name);
    m_log->debug("process {}: {} [{:#x}, +{:#x}) = {}", call.process, name, call.addr, call.len, err::name(r));
    return r;
}

const char* Kernel::fault(unsigned process, const FaultRequest& request) {
    op_begin();
    m_delay += cycles_to_time(m_config.costs.fault_entry_exit);
    ++m_stats.faults_total;
    ++m_stats.faults_by_kind[std::string(arch::fault_kind_name(request.kind))];
    const char* path = nullptr;
    try {
        path = m_faults->handle_mm_fault(mm(process), request);
    } catch (...) {
        op_end("fault");
        throw;
    }
    ++m_stats.faults_by_handler[path];
    op_end("fault");
    if (m_checker != nullptr) m_checker->after_op("fault");
    return path;
}

void Kernel::set_smp(SmpState* smp) {
    m_smp = smp;
    m_flush.set_observer(smp != nullptr ? this : nullptr);
}

void Kernel::set_timeline(Timeline* timeline) {
    m_timeline = timeline;
    m_flush.set_timeline(timeline);
    if (timeline != nullptr) timeline->attach(&m_delay, &m_synced, m_config.cores);
}

std::uint64_t Kernel::peek_pte_address(const Mm& mm, std::uint64_t va) {
    const Leaf leaf = peek_leaf(mm, va);
    return leaf.level == 3 ? leaf.pa : 0;
}

Kernel::Leaf Kernel::peek_leaf(const Mm& mm, std::uint64_t va) {
    const arch::Geometry& geo = m_ctx.geo;
    std::uint64_t table = mm.pgd_pa;
    for (unsigned level = geo.start_level;; ++level) {
        const std::uint64_t pa = table + geo.index(va, level) * 8;
        const arch::Desc d = m_mem.peek(pa);
        if (level == 3) return Leaf{d, 3, pa};
        // A block (valid, not a table) or an entry that is not valid (none, PROT_NONE, a PMD
        // migration entry) is the leaf.
        if (!arch::desc_valid(d) || !arch::desc_is_table_or_page(d)) return Leaf{d, level, pa};
        table = arch::desc_oa(d, geo.page_shift);
    }
}

VmaClass Kernel::vma_class(unsigned process, std::uint64_t va) const {
    const auto it = m_processes.find(process);
    if (it == m_processes.end()) return VmaClass::Count;
    const Vma* vma = it->second->find_vma(va);
    return vma != nullptr ? vma->vma_class() : VmaClass::Count;
}

std::array<MappedPages, kVmaClassCount> Kernel::mapped_pages_by_vma() {
    std::array<MappedPages, kVmaClassCount> out{};
    for (const auto& [id, mm] : m_processes) count_mapped_pages(*mm, mm->pgd_pa, m_ctx.geo.start_level, 0, out);
    return out;
}

void Kernel::count_mapped_pages(const Mm& mm, std::uint64_t table, unsigned level, std::uint64_t va,
                                std::array<MappedPages, kVmaClassCount>& out) {
    const arch::Geometry& geo = m_ctx.geo;
    const std::uint64_t entries = level == geo.start_level ? geo.start_table_entries() : geo.ptrs_per_table();
    for (std::uint64_t i = 0; i < entries; ++i) {
        // Present entries are mapped pages, PROT_NONE ones included (pte_present, as RSS).
        const arch::Desc d = m_mem.peek(table + i * 8);
        if (!pte_present(d)) continue;
        const std::uint64_t entry_va = va + (i << geo.level_shift(level));
        if (level < 3 && arch::desc_valid(d) && arch::desc_is_table_or_page(d)) {
            count_mapped_pages(mm, arch::desc_oa(d, geo.page_shift), level + 1, entry_va, out);
            continue;
        }
        const Vma* vma = mm.find_vma(entry_va);
        if (vma == nullptr) continue;  // a bug the invariant checker reports; not counted here
        MappedPages& m = out[static_cast<std::size_t>(vma->vma_class())];
        m.pages += geo.level_size(level) >> geo.page_shift;
        if (level == 3 && arch::desc_cont(d)) ++m.cont_pages;
    }
}

void Kernel::lockless_read_at_entry(const KernelCallExt& call) {
    // handle_pte_fault reads the faulting entry with ptep_get_lockless before it takes the PTE
    // lock, so it may see a convert of the holder half-way: a cleared entry (it goes on as if
    // the entry were none, and the locked path finds it mapped), or a block whose entries do
    // not agree yet (it reads again, here at each step of the holder, until they do).
    if (!has_process(call.process)) return;
    const std::uint64_t ptep = peek_pte_address(mm(call.process), call.va);
    if (ptep == 0) return;
    // A migration entry: do_swap_page -> migration_entry_wait sleeps until the migration
    // removes it (on the folio lock); the model's fault waits for the kernel below, finds the
    // new entry and resolves as any fault that raced with a change.
    if (m_owner >= 0 && is_migration_entry(m_mem.peek(ptep))) ++m_stats.migration_waits;
    for (;;) {
        const Pgtable::LocklessView view = m_pgtable.lockless_view(ptep);
        if (view == Pgtable::LocklessView::Inconsistent && m_owner >= 0) {
            ++m_stats.lockless_retries;
            sc_core::wait(m_progress);
            continue;
        }
        if (view == Pgtable::LocklessView::None && m_owner >= 0) ++m_stats.lockless_none;
        return;
    }
}

void Kernel::acquire(const KernelCallExt& call, sc_core::sc_time& delay) {
    if (m_owner < 0 || m_owner == static_cast<int>(call.core)) {
        m_owner = static_cast<int>(call.core);
        return;
    }
    // Another core's call is inside the kernel (it is waiting at a synchronisation point).
    ++m_stats.lock_waits;
    ++m_waiters;
    sc_core::wait(delay);
    delay = sc_core::SC_ZERO_TIME;
    const sc_core::sc_time start = sc_core::sc_time_stamp();
    if (call.kind == KernelCallExt::Kind::PageFault && m_owner_in_fault) lockless_read_at_entry(call);
    while (m_owner >= 0) sc_core::wait(m_released);
    m_stats.lock_wait_cycles += time_to_cycles(sc_core::sc_time_stamp() - start);
    --m_waiters;
    m_owner = static_cast<int>(call.core);
}

void Kernel::release(sc_core::sc_time& delay) {
    if (m_waiters > 0) {
        // Others wait for the kernel: they get it when this call really ends.
        sc_core::wait(delay);
        delay = sc_core::SC_ZERO_TIME;
    }
    m_owner = -1;
    m_owner_in_fault = false;
    m_released.notify();
    m_progress.notify();
}

void Kernel::observable_point() {
    if (m_call_delay == nullptr) return;  // not inside a core's call (set-up, tests)
    // This core's local time: wait until then, so that the others run up to it and see the
    // tables as they are now; a core reaching the window's end stops there.
    const sc_core::sc_time local = *m_call_delay + (m_delay - m_synced);
    ++m_stats.sync_points;
    m_smp->window_open = true;
    m_smp->window_core = m_call_core;
    m_smp->window_end = sc_core::sc_time_stamp() + local;
    sc_core::wait(local);
    m_smp->window_open = false;
    *m_call_delay = sc_core::SC_ZERO_TIME;
    m_synced = m_delay;
    m_progress.notify();
}

void Kernel::b_transport(int /*initiator*/, tlm::tlm_generic_payload& trans, sc_core::sc_time& delay) {
    KernelCallExt* call = nullptr;
    trans.get_extension(call);
    if (m_timeline != nullptr) m_timeline->call_arrive(call->core, delay);
    if (m_smp != nullptr) {
        acquire(*call, delay);
        // Faults and the NUMA scan hold the mmap lock (or the VMA lock) for reading only, and
        // page migration holds it for reading while it queues folios and not at all while it
        // moves them (since "mempolicy: mmap_lock is not needed while migrating folios",
        // v6.7), so a fault on another core gets as far as its lockless read.
        m_owner_in_fault = call->kind == KernelCallExt::Kind::PageFault ||
                           (call->kind == KernelCallExt::Kind::Syscall &&
                            (call->syscall->op == SyscallOp::NumaScan || call->syscall->op == SyscallOp::Migrate));
        m_call_delay = &delay;
        m_call_core = call->core;
    }
    m_delay = sc_core::SC_ZERO_TIME;
    m_synced = sc_core::SC_ZERO_TIME;
    m_flush.set_core(call->core);
    if (m_timeline != nullptr) m_timeline->call_begin(call->core, delay);
    try {
        switch (call->kind) {
            case KernelCallExt::Kind::PageFault: {
                const char* path = fault(call->process, FaultRequest{call->va, call->access, call->fault, call->level});
                m_log->debug("core {}: {} {} fault at VA {:#x} (level {}): {}", call->core, arch::access_name(call->access),
                             arch::fault_kind_name(call->fault), call->va, call->level, path);
                if (m_timeline != nullptr) m_timeline->call_arg(TimelineArg::str("handler", path));
                break;
            }
            case KernelCallExt::Kind::Syscall:
                call->result = syscall(*call->syscall);
                break;
            case KernelCallExt::Kind::FoldScan:
                fold_scan();
                break;
            case KernelCallExt::Kind::ContextSwitch: {
                // __switch_to: DSB.ISH (completes pending TLB maintenance and publishes
                // page-table stores); the lazy-MMU pending flag stays with the task.
                const Mm& next = mm(call->process);
                ++m_stats.context_switches;
                m_delay += cycles_to_time(m_config.costs.context_switch);
                m_lazy.context_switch();
                call->ttbr = next.pgd_pa;
                call->asid = next.asid;
                break;
            }
        }
        trans.set_response_status(tlm::TLM_OK_RESPONSE);
    } catch (const KernelError& e) {
        m_log->debug("core {}: kernel call not resolved: {}", call->core, e.what());
        call->error = e.what();
        call->segv = dynamic_cast<const SegvError*>(&e) != nullptr;
        trans.set_response_status(tlm::TLM_GENERIC_ERROR_RESPONSE);
    }
    if (m_timeline != nullptr) m_timeline->call_end(*call);
    // The whole call's time is counted; the part spent at synchronisation points has passed.
    delay += take_delay() - m_synced;
    if (m_smp != nullptr) {
        m_call_delay = nullptr;
        release(delay);
    }
}

}  // namespace mmusim::kernel
