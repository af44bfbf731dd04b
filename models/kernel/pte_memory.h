// The kernel's own page-table accesses as TLM transactions to PhysMem, each counted with its
// kernel.md event name: R (plain read), W (plain store), X (exchange), C (compare-and-swap).
// Upper-level table entries are read and written here too but counted apart.
#pragma once

#include <cstdint>

#include <systemc>
#include <tlm>

#include "models/kernel/kernel_config.h"
#include "models/kernel/kernel_stats.h"
#include "models/memory/word_access.h"

namespace mmusim::kernel {

class PteMemory {
public:
    // `delay` accumulates the annotated time of every access of the current kernel call.
    PteMemory(tlm::tlm_initiator_socket<>& socket, KernelStats& stats, const KernelCosts& costs,
              sc_core::sc_time& delay);

    std::uint64_t read(std::uint64_t pa);                      // R
    void write(std::uint64_t pa, std::uint64_t value);         // W
    std::uint64_t xchg(std::uint64_t pa, std::uint64_t value); // X
    std::uint64_t cas(std::uint64_t pa, std::uint64_t expected, std::uint64_t value);  // C

    std::uint64_t table_read(std::uint64_t pa);
    void table_write(std::uint64_t pa, std::uint64_t value);
    std::uint64_t table_xchg(std::uint64_t pa, std::uint64_t value);
    // Uncounted debug read (teardown bookkeeping, not a modelled access).
    std::uint64_t peek(std::uint64_t pa) { return m_words.peek(pa); }

private:
    memory::WordAccess m_words;
    KernelStats& m_stats;
    const KernelCosts& m_costs;
    sc_core::sc_time& m_delay;
};

}  // namespace mmusim::kernel
