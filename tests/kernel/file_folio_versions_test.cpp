// Audit item 2: how much of a large page-cache folio a read fault maps, by version.
// finish_fault maps the whole folio of a regular file only from v6.18 (19773df031bc), and
// fault-around maps a whole folio reaching past its window only from v6.18 (357b92761d94).
#include "tests/kernel/scenario_fixture.h"

namespace mmusim::kernel::testing {
namespace {

constexpr std::uint64_t kBase = KernelScenario::kScriptBase;
constexpr std::uint64_t kPage = 4096;

class FileFolioVersions : public KernelScenario {
protected:
    // A 2 MiB private read-only mapping of file 1, whose page cache holds 64K folios.
    void map_file(const char* version, std::uint64_t fault_around, std::uint64_t at = kBase) {
        if (at == kBase) {
            KernelConfig c = scripted(version);
            c.fault_around_bytes = fault_around;
            build(c);
        }
        Syscall m;
        m.op = SyscallOp::Mmap;
        m.kind = MapKind::File;
        m.addr = at;
        m.len = 2u << 20;
        m.prot = kProtRead;
        m.file = 1;
        m.file_folio = 64 * 1024;
        ASSERT_EQ(sys(m), 0);
    }
    unsigned mapped(std::uint64_t from, unsigned pages) const {
        unsigned n = 0;
        for (unsigned i = 0; i < pages; ++i) n += pte(from + i * kPage) != 0 ? 1 : 0;
        return n;
    }
};

TEST_F(FileFolioVersions, Item2_FinishFaultMapsAWholeFileFolioFromV618) {
    for (const char* version : {"6.17", "6.18"}) {
        SCOPED_TRACE(version);
        const bool whole = std::string(version) == "6.18";
        map_file(version, kPage);  // no fault-around
        EXPECT_STREQ(fault(kBase + 5 * kPage, arch::Access::Load), whole ? "file_folio" : "file_page");
        EXPECT_EQ(mapped(kBase, 16), whole ? 16u : 1u);
        EXPECT_EQ(kernel->stats().blocks_mapped_cont, whole ? 1u : 0u);
    }
}

TEST_F(FileFolioVersions, Item2_FaultAroundMapsTheWholeFolioFromV618) {
    for (const char* version : {"6.17", "6.18"}) {
        SCOPED_TRACE(version);
        const bool whole = std::string(version) == "6.18";
        map_file(version, 4 * kPage);  // a 16K window, smaller than the folio
        ASSERT_NE(fault(kBase, arch::Access::Load), nullptr);  // reads the first folio in
        // A second mapping of the file finds the folio cached: a fault on page 5 maps the
        // window of pages 4-7 (6.17), or the whole folio (6.18).
        map_file(version, 4 * kPage, kBase + (4u << 20));
        const std::uint64_t second = kBase + (4u << 20);
        EXPECT_STREQ(fault(second + 5 * kPage, arch::Access::Load), "file_fault_around");
        EXPECT_EQ(mapped(second, 16), whole ? 16u : 4u);
        EXPECT_EQ(mapped(second + 4 * kPage, 4), 4u);
        EXPECT_EQ(arch::desc_valid_cont(pte(second)), whole);
    }
}

}  // namespace
}  // namespace mmusim::kernel::testing
