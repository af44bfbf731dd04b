// The page-table invariant checker (`mmusim run --check`): after every kernel operation that
// returns (a fault, a system call, a fold-scanner pass) it reads every page table of every
// address space and every TLB entry of every core, without counting or time, and stops the
// run when the model has built something arm64 Linux never would:
// - a PTE with PTE_CONT in a kernel built without contpte (kernel.contpte false);
// - a folded block that is not CONT_PTES valid entries with PTE_CONT, mapping consecutive
//   PFNs from an aligned first PFN, with the same attributes except access and dirty state
//   (a present-invalid PROT_NONE entry may keep PTE_CONT: hardware and Linux ignore it);
// - PTE_CONT on a PMD leaf of a user address space (only hugetlb uses contiguous PMDs);
// - PTE_CONT on a kernel mapping (no caller in the model sets it there);
// - a present user entry outside every VMA, an entry writable or executable at EL0 in a VMA
//   that forbids it, or an accessible entry in a PROT_NONE VMA;
// - a walk-cache entry holding a table descriptor that is no longer the one in memory (a
//   freed or moved table the walker could still start from);
// - a TLB entry that grants an access (load, store, instruction fetch) that the descriptor
//   now in memory forbids, or that translates to another physical address than the
//   descriptor does. An entry that forbids more than the descriptor is fine (the access
//   takes a spurious fault), and the access flag is not compared (Linux ages pages without
//   a TLBI on purpose). Entries of an ASID that no live address space uses are skipped: they
//   can no longer be used.
// A violation throws InvariantViolation naming the operation, the VA and the entries.
//
// To stay affordable after every fault, an operation's check reads only what it may have
// broken: the PTE tables that something other than a table walker stored to since the last
// check (PhysMem's store log), every table of an address space whose VMAs changed, and the
// TLB entries whose VA range holds a valid descriptor that a store changed (an entry is
// filled from the tables as they are, and a store over an invalid descriptor cannot make a
// cached translation stale).
// The first check after the checker is attached reads everything.
#pragma once

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "models/arch/granule.h"
#include "models/kernel/kernel.h"
#include "models/kernel/op_checker.h"
#include "models/memory/phys_mem.h"
#include "models/mmu/mmu.h"

namespace mmusim::check {

class InvariantViolation : public std::runtime_error {
public:
    explicit InvariantViolation(const std::string& message) : std::runtime_error(message) {}
};

class InvariantChecker final : public kernel::OpChecker {
public:
    // Turns on `mem`'s store log.
    InvariantChecker(const kernel::Kernel& kernel, memory::PhysMem& mem, std::vector<const mmu::Mmu*> mmus);

    // The checks below, limited to what the operation may have changed; throws
    // InvariantViolation.
    void after_op(const std::string& op) override;
    // Every page table of every address space (user and kernel).
    void check_tables(const std::string& op) const;
    // Every TLB entry of every core against the descriptors in memory.
    void check_tlbs(const std::string& op) const;
    // A VA range whose translation a store changed, in the address space of `asid` (or the
    // kernel's, `global`).
    struct Changed {
        std::uint16_t asid;
        bool global;
        std::uint64_t va, size;
    };

    std::uint64_t ops_checked() const { return m_ops; }

private:
    // What one check reads: every PTE table, or those of the address spaces in `full` and
    // those holding one of the logged `pages` (sorted).
    struct Scope {
        bool all = true;
        std::vector<unsigned> full;
        std::vector<std::uint64_t> pages;
        std::vector<std::uint64_t> changed_pas;   // valid descriptors stored over (sorted)
        mutable std::vector<Changed> changed;     // their VA ranges, found by the table walk
    };
    struct VmaPrint {
        std::uint64_t start, end;
        kernel::VmFlags flags;
        kernel::VmaKind kind;
        bool operator==(const VmaPrint&) const = default;
    };
    using Prints = std::map<unsigned, std::vector<VmaPrint>>;
    Prints vma_prints() const;
    void check_tables(const std::string& op, const Scope& scope) const;
    bool in_scope(const Scope& scope, const kernel::Mm& mm, std::uint64_t table) const;
    // Copies `n` descriptors from `pa` (never-stored memory reads as zero).
    void read_words(std::uint64_t pa, std::uint64_t n, arch::Desc* out) const;
    struct Leaf {
        arch::Desc desc = 0;
        std::uint64_t desc_pa = 0;
        unsigned level = 0;
        bool found = false;  // a valid leaf descriptor
    };
    // The leaf translating `va` in the tables at `pgd`, read with peek.
    Leaf walk(std::uint64_t pgd, std::uint64_t va) const;
    void check_table(const kernel::Mm& mm, std::uint64_t table, unsigned level, std::uint64_t va, const std::string& op,
                     const Scope& scope) const;
    void check_pte_table(const kernel::Mm& mm, std::uint64_t table, std::uint64_t va, const std::string& op) const;
    void check_leaf(const kernel::Mm& mm, std::uint64_t va, arch::Desc d, unsigned level, const std::string& op) const;
    // With `changed`, only the entries overlapping one of its ranges.
    void check_tlbs(const std::string& op, const std::vector<Changed>* changed) const;
    // The live address spaces by ASID.
    using AsidMap = std::map<std::uint16_t, const kernel::Mm*>;
    void check_tlb(unsigned core, const mmu::Tlb& tlb, const std::string& op, const std::vector<Changed>* changed,
                   const AsidMap& by_asid) const;
    void check_walk_cache(unsigned core, const mmu::WalkCache& cache, const std::string& op, const AsidMap& by_asid) const;
    // Notes in scope.changed the ranges of the changed descriptors that lie in `table`.
    void note_changes(const Scope& scope, const kernel::Mm& mm, std::uint64_t table, unsigned level, std::uint64_t va) const;
    [[noreturn]] void fail(const std::string& op, const kernel::Mm* mm, std::uint64_t va, const std::string& what) const;

    const kernel::Kernel& m_kernel;
    memory::PhysMem& m_mem;
    std::vector<const mmu::Mmu*> m_mmus;
    const arch::Geometry& m_geo;
    std::uint64_t m_ops = 0;
    bool m_first = true;  // nothing checked yet: the next check reads everything
    Prints m_prints;      // the VMAs of each address space at the last check
};

}  // namespace mmusim::check
