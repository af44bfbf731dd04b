// The kernel side of workload.layout "trace" (models/kernel/trace_layout.cpp and the traced
// forms of mmap, brk and mremap): the VMAs of the address space at exec, brk growing and
// shrinking the heap, mremap shrinking, growing in place and moving, MAP_FIXED replacing
// what was mapped, a private file mapping copied on write, stack growth and its guard gap,
// a call that failed in the trace, and a call the model refuses although the trace says it
// succeeded.
#include "models/kernel/pte.h"
#include "tests/kernel/scenario_fixture.h"

namespace mmusim::kernel::testing {
namespace {

constexpr std::uint64_t kPage = 4096;
constexpr std::uint64_t kText = 0x5500000000;
constexpr std::uint64_t kHeap = 0x5500100000;
constexpr std::uint64_t kStackTop = 0x7ffffff000;
constexpr std::uint64_t kStack = kStackTop - 0x21000;

class TraceLayout : public KernelScenario {
protected:
    void SetUp() override {
        KernelConfig c = scripted();
        c.mthp_orders = {};
        build(c);
        std::vector<InitialMapping> maps;
        maps.push_back(InitialMapping{kText, kText + 0x20000, true, false, true, false, 0, "/usr/bin/prog"});
        maps.push_back(InitialMapping{kText + 0x30000, kText + 0x32000, true, true, false, false, 0x20000, "/usr/bin/prog"});
        maps.push_back(InitialMapping{kText + 0x32000, kText + 0x34000, true, true, false, false, 0, ""});
        maps.push_back(InitialMapping{kStack, kStackTop, true, true, false, false, 0, "[stack]"});
        kernel->install_initial_mappings(maps);
    }
    Syscall traced(SyscallOp op, std::uint64_t addr, std::uint64_t len, std::int64_t result) const {
        Syscall c;
        c.op = op;
        c.addr = addr;
        c.len = len;
        c.traced = true;
        c.traced_result = result;
        c.origin = "t.lackey:7";
        return c;
    }
    int brk(std::uint64_t arg, std::uint64_t result) {
        Syscall c = traced(SyscallOp::Brk, arg, 0, static_cast<std::int64_t>(result));
        c.new_addr = result;
        return sys(c);
    }
    const Vma* vma(std::uint64_t va) { return kernel->mm().find_vma(va); }
};

TEST_F(TraceLayout, ExecMappingsBecomeVmas) {
    const Vma* text = vma(kText + 0x1000);
    ASSERT_NE(text, nullptr);
    EXPECT_EQ(text->kind, VmaKind::File);
    EXPECT_TRUE(text->flags.exec);
    EXPECT_FALSE(text->flags.write);
    const Vma* data = vma(kText + 0x30000);
    ASSERT_NE(data, nullptr);
    EXPECT_EQ(data->file, text->file);  // one page cache per path
    EXPECT_EQ(data->pgoff, 0x20u);
    EXPECT_TRUE(vma(kText + 0x32000)->anonymous());
    EXPECT_TRUE(vma(kStack)->flags.growsdown);
    EXPECT_EQ(vma(kText + 0x25000), nullptr);
    // Code is read from the file's page cache; the private data page is copied on write.
    EXPECT_STREQ(fault(kText + 0x1000, arch::Access::Ifetch), "file_page");
    const char* w = fault(kText + 0x30000, arch::Access::Store);
    EXPECT_TRUE(std::string(w).find("cow") != std::string::npos || std::string(w).find("copy") != std::string::npos) << w;
}

TEST_F(TraceLayout, BrkGrowsAndShrinksTheHeap) {
    ASSERT_EQ(brk(0, kHeap), 0);  // the first query tells where the heap starts
    EXPECT_EQ(vma(kHeap), nullptr);
    ASSERT_EQ(brk(kHeap + 0x21000, kHeap + 0x21000), 0);
    const Vma* heap = vma(kHeap);
    ASSERT_NE(heap, nullptr);
    EXPECT_EQ(heap->end, kHeap + 0x21000);
    EXPECT_EQ(heap->name, "[heap]");
    ASSERT_EQ(brk(kHeap + 0x40800, kHeap + 0x40800), 0);  // grows; page-aligned end
    EXPECT_EQ(vma(kHeap)->end, kHeap + 0x41000);
    EXPECT_EQ(vma(kHeap + 0x40000)->start, kHeap);  // one VMA (merged)
    fault(kHeap + 0x40000, arch::Access::Store);
    ASSERT_NE(pte(kHeap + 0x40000), 0u);
    ASSERT_EQ(brk(kHeap + 0x10000, kHeap + 0x10000), 0);  // shrinks: the tail is unmapped
    EXPECT_EQ(vma(kHeap)->end, kHeap + 0x10000);
    EXPECT_EQ(pte(kHeap + 0x40000), 0u);
    EXPECT_EQ(kernel->stats().by_op.at("brk").calls, 4u);
}

TEST_F(TraceLayout, MmapFixedReplacesWhatWasMapped) {
    // ld.so maps a library with one reservation, then MAP_FIXED segments over it.
    const std::uint64_t lib = 0x7f00000000;
    Syscall reserve = traced(SyscallOp::Mmap, lib, 0x40000, static_cast<std::int64_t>(lib));
    reserve.kind = MapKind::File;
    reserve.file_path = "/usr/lib/libc.so.6";
    reserve.prot = kProtRead;
    ASSERT_EQ(sys(reserve), 0);
    fault(lib + 0x10000, arch::Access::Load);
    Syscall seg = reserve;
    seg.addr = lib + 0x10000;
    seg.len = 0x10000;
    seg.prot = kProtRead | kProtExec;
    seg.fixed = true;
    seg.file_offset = 0x10000;
    ASSERT_EQ(sys(seg), 0);
    EXPECT_EQ(pte(lib + 0x10000), 0u);  // the old page went with the old mapping
    EXPECT_TRUE(vma(lib + 0x10000)->flags.exec);
    EXPECT_FALSE(vma(lib)->flags.exec);
    EXPECT_EQ(vma(lib)->name, "/usr/lib/libc.so.6");
    // Without MAP_FIXED the range must have been free: a disagreement is an error naming the line.
    Syscall clash = reserve;
    try {
        sys(clash);
        FAIL() << "no error";
    } catch (const KernelError& e) {
        const std::string m = e.what();
        EXPECT_NE(m.find("t.lackey:7"), std::string::npos) << m;
        EXPECT_NE(m.find("succeeded in the trace"), std::string::npos) << m;
        EXPECT_NE(m.find("EEXIST"), std::string::npos) << m;
    }
    ends_mid_operation = true;
}

TEST_F(TraceLayout, MremapShrinksGrowsInPlaceAndMoves) {
    const std::uint64_t a = 0x7f10000000;
    Syscall m = traced(SyscallOp::Mmap, a, 0x40000, static_cast<std::int64_t>(a));
    ASSERT_EQ(sys(m), 0);
    fault(a, arch::Access::Store);
    fault(a + 0x30000, arch::Access::Store);
    // Shrink in place: the tail goes.
    Syscall shrink = traced(SyscallOp::Mremap, a, 0x40000, static_cast<std::int64_t>(a));
    shrink.new_len = 0x20000;
    shrink.new_addr = a;
    ASSERT_EQ(sys(shrink), 0);
    EXPECT_EQ(vma(a)->end, a + 0x20000);
    EXPECT_EQ(pte(a + 0x30000), 0u);
    // Grow in place over free addresses.
    Syscall grow = shrink;
    grow.len = 0x20000;
    grow.new_len = 0x50000;
    ASSERT_EQ(sys(grow), 0);
    EXPECT_EQ(vma(a)->end, a + 0x50000);
    // Move and grow: the page tables move, the new VMA is the new length.
    const std::uint64_t to = 0x7f20000000;
    Syscall move = traced(SyscallOp::Mremap, a, 0x50000, static_cast<std::int64_t>(to));
    move.new_len = 0x80000;
    move.new_addr = to;
    ASSERT_EQ(sys(move), 0);
    EXPECT_EQ(vma(a), nullptr);
    ASSERT_NE(vma(to), nullptr);
    EXPECT_EQ(vma(to)->end, to + 0x80000);
    EXPECT_TRUE(arch::desc_valid(pte(to)));
    EXPECT_EQ(kernel->stats().by_op.at("mremap").calls, 3u);
}

TEST_F(TraceLayout, StackGrowsDownButNotIntoTheGuardGap) {
    // A store below the stack VMA grows it.
    EXPECT_STREQ(fault(kStack - 0x5000, arch::Access::Store), "anon_folio_order0");
    EXPECT_EQ(vma(kStack - 0x5000)->start, kStack - 0x5000);
    // A mapping just below: the stack may not come within 256 pages of it.
    const std::uint64_t below = kStack - 0x5000 - 0x200000;
    Syscall m = traced(SyscallOp::Mmap, below, 0x10000, static_cast<std::int64_t>(below));
    ASSERT_EQ(sys(m), 0);
    EXPECT_STREQ(fault(below + 0x10000 + 0x100000, arch::Access::Store), "anon_folio_order0");  // exactly the gap
    EXPECT_THROW(fault(below + 0x10000 + 0xff000, arch::Access::Store), SegvError);
    ends_mid_operation = true;
}

TEST_F(TraceLayout, AFailedCallIsCountedAndNotApplied) {
    Syscall m = traced(SyscallOp::Mmap, 0, 0x1000, -12);
    EXPECT_EQ(sys(m), -12);
    EXPECT_EQ(kernel->stats().by_op.at("mmap").results.at("ENOMEM"), 1u);
    Syscall p = traced(SyscallOp::Mprotect, kText, 0x1000, -13);
    p.prot = kProtRead | kProtWrite;
    EXPECT_EQ(sys(p), -13);
    EXPECT_EQ(kernel->stats().by_op.at("mprotect").results.at("EACCES"), 1u);
    EXPECT_FALSE(vma(kText)->flags.write);
}

}  // namespace
}  // namespace mmusim::kernel::testing
