#include "models/kernel/pte_memory.h"

#include "models/common/cycles.h"

namespace mmusim::kernel {

PteMemory::PteMemory(tlm::tlm_initiator_socket<>& socket, KernelStats& stats, const KernelCosts& costs,
                     sc_core::sc_time& delay)
    : m_words(socket), m_stats(stats), m_costs(costs), m_delay(delay) {}

std::uint64_t PteMemory::read(std::uint64_t pa) {
    ++m_stats.pte_R;
    return m_words.read(pa, m_delay);
}

void PteMemory::write(std::uint64_t pa, std::uint64_t value) {
    ++m_stats.pte_W;
    m_words.write(pa, value, m_delay);
}

std::uint64_t PteMemory::xchg(std::uint64_t pa, std::uint64_t value) {
    ++m_stats.pte_X;
    m_delay += cycles_to_time(m_costs.atomic);
    return m_words.exchange(pa, value, m_delay);
}

std::uint64_t PteMemory::cas(std::uint64_t pa, std::uint64_t expected, std::uint64_t value) {
    ++m_stats.pte_C;
    m_delay += cycles_to_time(m_costs.atomic);
    return m_words.compare_and_swap(pa, expected, value, m_delay);
}

std::uint64_t PteMemory::table_read(std::uint64_t pa) {
    ++m_stats.table_reads;
    return m_words.read(pa, m_delay);
}

void PteMemory::table_write(std::uint64_t pa, std::uint64_t value) {
    ++m_stats.table_writes;
    m_words.write(pa, value, m_delay);
}

std::uint64_t PteMemory::table_xchg(std::uint64_t pa, std::uint64_t value) {
    ++m_stats.table_writes;
    m_delay += cycles_to_time(m_costs.atomic);
    return m_words.exchange(pa, value, m_delay);
}

}  // namespace mmusim::kernel
