// Counters of the kernel model (spec/mmu.md §5 "kernel").
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>

#include "models/arch/tlbi.h"

namespace mmusim::kernel {

enum class Barrier : std::uint8_t { DsbIshst, DsbIsh, DsbNshst, DsbNsh, Isb, Count };

inline const char* barrier_name(Barrier b) {
    switch (b) {
        case Barrier::DsbIshst: return "DSB.ISHST";
        case Barrier::DsbIsh: return "DSB.ISH";
        case Barrier::DsbNshst: return "DSB.NSHST";
        case Barrier::DsbNsh: return "DSB.NSH";
        case Barrier::Isb: return "ISB";
        case Barrier::Count: break;
    }
    return "?";
}

struct KernelStats {
    // Faults taken, by the MMU's fault class, and by the handler path that resolved them.
    std::uint64_t faults_total = 0;
    std::map<std::string, std::uint64_t> faults_by_kind;
    std::map<std::string, std::uint64_t> faults_by_handler;
    // Folios allocated, by size in bytes.
    std::map<std::uint64_t, std::uint64_t> folios_by_size;
    // contpte engine.
    std::uint64_t fold_attempts = 0;  // __contpte_try_fold entered (cheap pre-check passed)
    std::uint64_t folds = 0;
    std::uint64_t unfolds = 0;
    std::uint64_t converts = 0;
    std::uint64_t blocks_mapped_cont = 0;  // blocks written with PTE_CONT by contpte_set_ptes
    // PTE operations (kernel.md event names).
    std::uint64_t pte_R = 0, pte_W = 0, pte_X = 0, pte_C = 0;
    // Upper-level table traffic of the kernel (not PTE events).
    std::uint64_t table_reads = 0, table_writes = 0, tables_allocated = 0;
    std::array<std::uint64_t, arch::kTlbiOpCount> tlbi{};
    std::uint64_t tlbi_local = 0, tlbi_broadcast = 0;
    std::array<std::uint64_t, static_cast<std::size_t>(Barrier::Count)> barriers{};
    std::uint64_t cycles = 0;  // kernel time, all handlers
};

}  // namespace mmusim::kernel
