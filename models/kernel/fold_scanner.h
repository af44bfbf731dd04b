// The background fold pass of kernel.fold_policy "scanner": a kernel thread in the manner of
// khugepaged that wakes every fold_scanner.interval cycles and walks the address spaces,
// folding every block whose entries already map one folio contiguously with the same
// attributes but were never folded (the single-entry rule of spec/kernel.md §5.3 missed
// them: a block completed by a batch, an undone mprotect on an entry other than the last).
// Each pass advances over fold_scanner.pages PTE slots and resumes where it stopped.
#pragma once

#include <cstdint>
#include <map>
#include <memory>

#include "models/kernel/kernel_context.h"
#include "models/kernel/mm.h"

namespace mmusim::kernel {

class FoldScanner {
public:
    explicit FoldScanner(KernelContext& k) : m_k(k) {}

    // One pass over the address spaces of `processes`, from where the previous one stopped.
    void pass(const std::map<unsigned, std::unique_ptr<Mm>>& processes);

private:
    // The PTE table mapping the first page at or after `va` that any table maps, below
    // `end`: its address, and `va` moved to the first address it covers. 0 when none.
    std::uint64_t next_pte_table(const Mm& mm, std::uint64_t& va, std::uint64_t end);

    KernelContext& m_k;
    unsigned m_process = 0;  // where the next pass starts
    std::uint64_t m_va = 0;
};

}  // namespace mmusim::kernel
