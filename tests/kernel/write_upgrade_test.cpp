// change_protection's write upgrade (MM_CP_TRY_CHANGE_WRITABLE) follows
// vma_wants_manual_pte_write_upgrade: private writable mappings, and shared mappings that
// write-notify (a shared writable file); never a mapping without write permission.
#include "tests/kernel/scenario_fixture.h"

#include "models/kernel/pte.h"

namespace mmusim::kernel::testing {
namespace {

constexpr std::uint64_t kBase = KernelScenario::kScriptBase;
constexpr std::uint64_t kPage = 4096;
constexpr unsigned kRW = kProtRead | kProtWrite;

class WriteUpgrade : public KernelScenario {
protected:
    int mmap_shared(MapKind kind, unsigned prot) { return mmap_kind(kind, kBase, 16 * kPage, true, prot, 7); }
};

// A written page of a shared file, made read-only and read-write again, is writable at once
// (it is dirty); a page that was only read stays read-only until its first write.
TEST_F(WriteUpgrade, SharedFileDirtyPageIsWritableAgain) {
    build(scripted());
    ASSERT_EQ(mmap_shared(MapKind::File, kRW), 0);
    fault(kBase, arch::Access::Store);
    fault(kBase + kPage, arch::Access::Load);
    ASSERT_TRUE(arch::desc_write(pte(kBase)));
    ASSERT_FALSE(arch::desc_write(pte(kBase + kPage)));
    ASSERT_EQ(mprotect(kBase, 16 * kPage, kProtRead), 0);
    EXPECT_FALSE(arch::desc_write(pte(kBase)));
    ASSERT_EQ(mprotect(kBase, 16 * kPage, kRW), 0);
    EXPECT_TRUE(arch::desc_write(pte(kBase)));
    EXPECT_FALSE(arch::desc_write(pte(kBase + kPage)));
}

// A shared pfn map made read-only stays read-only, dirty or not: it does not write-notify, and
// without VM_WRITE nothing may be upgraded.
TEST_F(WriteUpgrade, SharedPfnmapMadeReadOnlyStaysReadOnly) {
    build(scripted());
    ASSERT_EQ(mmap_shared(MapKind::Pfnmap, kRW), 0);
    fault(kBase, arch::Access::Store);
    ASSERT_TRUE(arch::desc_write(pte(kBase)));
    ASSERT_EQ(mprotect(kBase, 16 * kPage, kProtRead), 0);
    for (unsigned i = 0; i < 16; ++i) EXPECT_FALSE(arch::desc_write(pte(kBase + i * kPage))) << i;
}

// The userfaultfd unprotect follows the same rule: a dirty page of a writable shared file is
// writable again at once.
TEST_F(WriteUpgrade, UffdUnprotectOfASharedFileMakesDirtyPagesWritable) {
    build(scripted());
    ASSERT_EQ(mmap_shared(MapKind::File, kRW), 0);
    fault(kBase, arch::Access::Store);
    ASSERT_EQ(uffd_register_wp(kBase, 16 * kPage), 0);
    ASSERT_EQ(uffd_wp(kBase, 16 * kPage), 0);
    EXPECT_FALSE(arch::desc_write(pte(kBase)));
    ASSERT_EQ(uffd_wp(kBase, 16 * kPage, false), 0);
    EXPECT_TRUE(arch::desc_write(pte(kBase)));
}

// A store to a huge pfn map leaf inserted by a read: the driver's insert_pfn_pmd finds the same
// PFN and upgrades the leaf with pmdp_set_access_flags, whose flush is one page TLBI.
TEST_F(WriteUpgrade, HugePfnmapWriteUpgradeFlushes) {
    build(scripted());
    ASSERT_EQ(mmap_kind(MapKind::HugePfnmap, kBase, 2u << 20), 0);
    ASSERT_STREQ(fault(kBase + 0x1234, arch::Access::Load), "pfnmap_huge");
    const std::uint64_t pmd = kernel->tables().pmd_lookup(kernel->mm(), kBase);
    ASSERT_FALSE(arch::desc_write(mem->peek(pmd)));
    mark();
    EXPECT_STREQ(fault(kBase + 0x1234, arch::Access::Store), "pfnmap_huge_upgrade");
    const Delta d = delta();
    EXPECT_EQ(d.tlbi, 1u);
    EXPECT_EQ(d.tlbi_op(arch::TlbiOp::VALE1IS), 1u);
    EXPECT_TRUE(arch::desc_write(mem->peek(pmd)));
    EXPECT_TRUE(arch::desc_dirty(mem->peek(pmd)));
}

}  // namespace
}  // namespace mmusim::kernel::testing
