// A kernel with its memory, DVM fabric and one MMU, elaborated in a fresh SystemC context,
// driven directly (no Core): tests call the fault handler and the page-table API and look at
// the counters and at the descriptors in memory.
#pragma once

#include <gtest/gtest.h>

#include <memory>

#include "models/arch/descriptor.h"
#include "models/check/invariant_checker.h"
#include "models/dvm/dvm.h"
#include "models/kernel/kernel.h"
#include "models/kernel/kernel_error.h"
#include "models/memory/phys_mem.h"
#include "models/mmu/mmu.h"
#include "sim/sc_context.h"

namespace mmusim::kernel::testing {

// Counter deltas of one step.
struct Delta {
    std::uint64_t R = 0, W = 0, X = 0, C = 0;
    std::uint64_t tlbi = 0, dsb_ishst = 0, dsb_ish = 0, dsb_nshst = 0, dsb_nsh = 0, isb = 0;
    std::uint64_t converts = 0, folds = 0, unfolds = 0, fold_attempts = 0, blocks_cont = 0;
    std::uint64_t tlbi_op(arch::TlbiOp op) const { return ops[static_cast<std::size_t>(op)]; }
    std::array<std::uint64_t, arch::kTlbiOpCount> ops{};
};

class KernelFixture : public ::testing::Test {
protected:
    KernelConfig config() const {
        KernelConfig c;
        c.version = *KernelVersion::parse("6.17");
        c.granule = arch::Granule::K4;
        c.contpte = true;
        c.zero_page = true;
        c.memory_bytes = std::uint64_t{1} << 30;
        return c;
    }

    void build(const KernelConfig& c) {
        TearDown();  // modules of an earlier build go before their context does
        sim::fresh_systemc_context();
        mem = std::make_unique<memory::PhysMem>("phys_mem", 30);
        dvm = std::make_unique<dvm::Dvm>("dvm", 1);
        kernel = std::make_unique<Kernel>("kernel", c);
        mmu::MmuConfig mc;
        mc.l1i = mc.l1d = mmu::TlbConfig{"l1", 48, 48, {4096, 65536, 2u << 20}, 1};
        mc.l1i.name = "l1i";
        mc.l1d.name = "l1d";
        mc.l2 = mmu::TlbConfig{"l2", 1280, 5, {4096, 65536, 2u << 20}, 5};
        mc.walker.granule = c.granule;
        mc.walker.hafdbs = c.hafdbs;  // the walker and the kernel see the same platform
        mc.conflict_abort = conflict_abort;
        mc.walk_cache = walk_cache;
        mmu_ = std::make_unique<mmu::Mmu>("mmu0", mc);
        kernel->mem_socket.bind(mem->socket);
        kernel->dvm_socket.bind(dvm->socket);
        mmu_->mem_socket.bind(mem->socket);
        dvm->mmu_socket(0).bind(mmu_->dvm_socket);
        // Unused ports of the MMU and kernel still need a partner to elaborate.
        dummy_core = std::make_unique<DummyInitiator>("dummy");
        dummy_core->to_mmu.bind(mmu_->cpu_socket);
        dummy_core->to_kernel.bind(kernel->socket);
        Mm& mm = kernel->create_user_mm(1, c.auto_layout);
        mmu_->set_context(mm.pgd_pa, mm.asid);
        // Every system call, and every fault through fault(), is followed by the invariant
        // checker, as in a `--check` run.
        checker = std::make_unique<check::InvariantChecker>(*kernel, *mem, std::vector<const mmu::Mmu*>{mmu_.get()});
        kernel->set_checker(checker.get());
        sc_core::sc_start(sc_core::SC_ZERO_TIME);
    }

    const char* fault(std::uint64_t va, arch::Access access, arch::FaultKind kind = arch::FaultKind::Translation,
                      unsigned process = 0) {
        const char* path = kernel->faults().handle_mm_fault(kernel->mm(process), FaultRequest{va, access, kind, 3});
        checker->after_op("fault");
        return path;
    }

    // System calls of process 0 (or `process`), as a script would make them.
    int sys(Syscall call) { return kernel->syscall(call); }
    int mmap_anon(std::uint64_t addr, std::uint64_t len, unsigned prot = kProtRead | kProtWrite) {
        Syscall c;
        c.op = SyscallOp::Mmap;
        c.addr = addr;
        c.len = len;
        c.prot = prot;
        return sys(c);
    }
    // mmap of another kind than private anonymous memory (`file` for MapKind::File).
    int mmap_kind(MapKind kind, std::uint64_t addr, std::uint64_t len, bool shared = false,
                  unsigned prot = kProtRead | kProtWrite, unsigned file = 0) {
        Syscall c;
        c.op = SyscallOp::Mmap;
        c.kind = kind;
        c.addr = addr;
        c.len = len;
        c.shared = shared;
        c.prot = prot;
        c.file = file;
        return sys(c);
    }
    int range_call(SyscallOp op, std::uint64_t addr, std::uint64_t len, unsigned process = 0) {
        Syscall c;
        c.op = op;
        c.addr = addr;
        c.len = len;
        c.process = process;
        return sys(c);
    }
    int mprotect(std::uint64_t addr, std::uint64_t len, unsigned prot) {
        Syscall c;
        c.op = SyscallOp::Mprotect;
        c.addr = addr;
        c.len = len;
        c.prot = prot;
        return sys(c);
    }
    int madvise(std::uint64_t addr, std::uint64_t len, Advice advice) {
        Syscall c;
        c.op = SyscallOp::Madvise;
        c.addr = addr;
        c.len = len;
        c.advice = advice;
        return sys(c);
    }
    int fork_child(unsigned child = 1) {
        Syscall c;
        c.op = SyscallOp::Fork;
        c.child = child;
        return sys(c);
    }
    int exit_process(unsigned process) {
        Syscall c;
        c.op = SyscallOp::Exit;
        c.process = process;
        return sys(c);
    }
    int uffd_register_wp(std::uint64_t addr, std::uint64_t len, bool async = false) {
        Syscall c;
        c.op = SyscallOp::UffdRegister;
        c.addr = addr;
        c.len = len;
        c.uffd_wp = true;
        c.uffd_async = async;
        return sys(c);
    }
    int uffd_wp(std::uint64_t addr, std::uint64_t len, bool protect = true) {
        Syscall c;
        c.op = SyscallOp::UffdWriteprotect;
        c.addr = addr;
        c.len = len;
        c.protect = protect;
        return sys(c);
    }
    std::uint64_t stat_tlbi(arch::TlbiOp op) const { return kernel->stats().tlbi[static_cast<std::size_t>(op)]; }

    // PA of the PTE of `va`, found through memory directly (not counted); 0 if no table.
    std::uint64_t pte_pa(std::uint64_t va, unsigned process = 0) const {
        const arch::Geometry& g = arch::geometry(kernel->config().granule);
        std::uint64_t table = kernel->mm(process).pgd_pa;
        for (unsigned level = g.start_level; level < 3; ++level) {
            const arch::Desc d = mem->peek(table + g.index(va, level) * 8);
            if (!arch::desc_valid(d)) return 0;
            table = arch::desc_oa(d, g.page_shift);
        }
        return table + g.index(va, 3) * 8;
    }
    arch::Desc pte(std::uint64_t va, unsigned process = 0) const { return mem->peek(pte_pa(va, process)); }

    void mark() { before = kernel->stats(); }
    Delta delta() const {
        const KernelStats& a = kernel->stats();
        Delta d;
        d.R = a.pte_R - before.pte_R;
        d.W = a.pte_W - before.pte_W;
        d.X = a.pte_X - before.pte_X;
        d.C = a.pte_C - before.pte_C;
        for (unsigned i = 0; i < arch::kTlbiOpCount; ++i) {
            d.ops[i] = a.tlbi[i] - before.tlbi[i];
            d.tlbi += d.ops[i];
        }
        const auto b = [&](Barrier x) { return a.barriers[static_cast<std::size_t>(x)] - before.barriers[static_cast<std::size_t>(x)]; };
        d.dsb_ishst = b(Barrier::DsbIshst);
        d.dsb_ish = b(Barrier::DsbIsh);
        d.dsb_nshst = b(Barrier::DsbNshst);
        d.dsb_nsh = b(Barrier::DsbNsh);
        d.isb = b(Barrier::Isb);
        d.converts = a.converts - before.converts;
        d.folds = a.folds - before.folds;
        d.unfolds = a.unfolds - before.unfolds;
        d.fold_attempts = a.fold_attempts - before.fold_attempts;
        d.blocks_cont = a.blocks_mapped_cont - before.blocks_mapped_cont;
        return d;
    }

    // One translation through the MMU, as a core would send it.
    mmu::TranslationExt translate(std::uint64_t va, arch::Access access) {
        tlm::tlm_generic_payload t;
        mmu::TranslationExt ext;
        ext.access = access;
        t.set_address(va);
        t.set_data_length(0);
        t.set_extension(&ext);
        sc_core::sc_time delay;
        dummy_core->to_mmu->b_transport(t, delay);
        t.clear_extension(&ext);
        return ext;
    }

    struct DummyInitiator : sc_core::sc_module {
        tlm_utils::simple_initiator_socket<DummyInitiator> to_mmu, to_kernel;
        explicit DummyInitiator(sc_core::sc_module_name n) : sc_core::sc_module(n), to_mmu("to_mmu"), to_kernel("to_kernel") {}
    };

    void TearDown() override {
        // The state a test leaves behind must hold the invariants too, unless the test stops
        // half-way through an operation on purpose (a primitive called alone).
        if (checker != nullptr && !ends_mid_operation) {
            try {
                checker->after_op("the end of the test");
            } catch (const check::InvariantViolation& e) {
                ADD_FAILURE() << e.what();
            }
        }
        checker.reset();
        dummy_core.reset();
        mmu_.reset();
        kernel.reset();
        dvm.reset();
        mem.reset();
    }

    std::unique_ptr<memory::PhysMem> mem;
    std::unique_ptr<dvm::Dvm> dvm;
    std::unique_ptr<Kernel> kernel;
    std::unique_ptr<mmu::Mmu> mmu_;
    std::unique_ptr<DummyInitiator> dummy_core;
    std::unique_ptr<check::InvariantChecker> checker;
    KernelStats before;
    bool conflict_abort = true;
    mmu::WalkCacheConfig walk_cache;  // none unless a test asks for one
    bool ends_mid_operation = false;  // the test leaves a transient state: skip the final check
};

}  // namespace mmusim::kernel::testing
