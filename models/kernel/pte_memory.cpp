#include "models/kernel/pte_memory.h"

#include <stdexcept>

#include "models/common/cycles.h"

namespace mmusim::kernel {

PteMemory::PteMemory(tlm::tlm_initiator_socket<>& socket, KernelStats& stats, const KernelCosts& costs,
                     sc_core::sc_time& delay)
    : m_socket(socket), m_stats(stats), m_costs(costs), m_delay(delay) {
    m_trans.set_data_ptr(reinterpret_cast<unsigned char*>(&m_data));
    m_trans.set_data_length(8);
    m_trans.set_streaming_width(8);
    m_trans.set_byte_enable_ptr(nullptr);
    m_trans.set_dmi_allowed(false);
}

PteMemory::~PteMemory() {
    if (m_trans.get_extension<memory::AtomicExt>() != nullptr) m_trans.clear_extension(&m_atomic);
}

void PteMemory::access(tlm::tlm_command cmd, std::uint64_t pa) {
    m_trans.set_command(cmd);
    m_trans.set_address(pa);
    m_trans.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
    m_socket->b_transport(m_trans, m_delay);
    if (!m_trans.is_response_ok())
        throw std::logic_error("page-table access to PA " + std::to_string(pa) + " failed");
}

std::uint64_t PteMemory::atomic(memory::AtomicExt::Op op, std::uint64_t pa, std::uint64_t expected,
                                std::uint64_t value) {
    m_atomic.op = op;
    m_atomic.expected = expected;
    m_atomic.value = value;
    m_data = value;
    m_trans.set_extension(&m_atomic);
    access(tlm::TLM_WRITE_COMMAND, pa);
    m_trans.clear_extension(&m_atomic);
    m_delay += cycles_to_time(m_costs.atomic);
    return m_atomic.old;
}

std::uint64_t PteMemory::read(std::uint64_t pa) {
    ++m_stats.pte_R;
    access(tlm::TLM_READ_COMMAND, pa);
    return m_data;
}

void PteMemory::write(std::uint64_t pa, std::uint64_t value) {
    ++m_stats.pte_W;
    m_data = value;
    access(tlm::TLM_WRITE_COMMAND, pa);
}

std::uint64_t PteMemory::xchg(std::uint64_t pa, std::uint64_t value) {
    ++m_stats.pte_X;
    return atomic(memory::AtomicExt::Op::Exchange, pa, 0, value);
}

std::uint64_t PteMemory::cas(std::uint64_t pa, std::uint64_t expected, std::uint64_t value) {
    ++m_stats.pte_C;
    return atomic(memory::AtomicExt::Op::CompareAndSwap, pa, expected, value);
}

std::uint64_t PteMemory::table_read(std::uint64_t pa) {
    ++m_stats.table_reads;
    access(tlm::TLM_READ_COMMAND, pa);
    return m_data;
}

void PteMemory::table_write(std::uint64_t pa, std::uint64_t value) {
    ++m_stats.table_writes;
    m_data = value;
    access(tlm::TLM_WRITE_COMMAND, pa);
}

}  // namespace mmusim::kernel
