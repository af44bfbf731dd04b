#include "models/memory/word_access.h"

#include <sstream>
#include <stdexcept>

namespace mmusim::memory {

WordAccess::WordAccess(tlm::tlm_initiator_socket<>& socket) : m_socket(socket) {
    m_trans.set_data_ptr(reinterpret_cast<unsigned char*>(&m_data));
    m_trans.set_data_length(8);
    m_trans.set_streaming_width(8);
    m_trans.set_byte_enable_ptr(nullptr);
    m_trans.set_dmi_allowed(false);
    m_debug.set_command(tlm::TLM_READ_COMMAND);
    m_debug.set_data_ptr(reinterpret_cast<unsigned char*>(&m_debug_data));
    m_debug.set_data_length(8);
}

WordAccess::~WordAccess() {
    // m_atomic is a member: never let the payload free it.
    if (m_trans.get_extension<AtomicExt>() != nullptr) m_trans.clear_extension(&m_atomic);
    if (m_walker != nullptr) m_trans.clear_extension(m_walker);
}

void WordAccess::mark_walker(WalkerAccessExt* ext) {
    if (m_walker != nullptr) m_trans.clear_extension(m_walker);
    m_walker = ext;
    if (ext != nullptr) m_trans.set_extension(ext);
}

void WordAccess::transport(tlm::tlm_command cmd, std::uint64_t pa, sc_core::sc_time& delay) {
    m_trans.set_command(cmd);
    m_trans.set_address(pa);
    m_trans.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
    m_socket->b_transport(m_trans, delay);
    if (!m_trans.is_response_ok()) {
        std::ostringstream os;
        os << "page-table access to PA 0x" << std::hex << pa << " failed: " << m_trans.get_response_string();
        throw std::logic_error(os.str());
    }
}

std::uint64_t WordAccess::read(std::uint64_t pa, sc_core::sc_time& delay) {
    transport(tlm::TLM_READ_COMMAND, pa, delay);
    return m_data;
}

std::uint64_t WordAccess::peek(std::uint64_t pa) {
    m_debug_data = 0;
    m_debug.set_address(pa);
    m_socket->transport_dbg(m_debug);
    return m_debug_data;
}

void WordAccess::write(std::uint64_t pa, std::uint64_t value, sc_core::sc_time& delay) {
    m_data = value;
    transport(tlm::TLM_WRITE_COMMAND, pa, delay);
}

std::uint64_t WordAccess::atomic(AtomicExt::Op op, std::uint64_t pa, std::uint64_t expected, std::uint64_t value,
                                 sc_core::sc_time& delay) {
    m_atomic.op = op;
    m_atomic.expected = expected;
    m_atomic.value = value;
    m_data = value;
    m_trans.set_extension(&m_atomic);
    transport(tlm::TLM_WRITE_COMMAND, pa, delay);
    m_trans.clear_extension(&m_atomic);
    return m_atomic.old;
}

std::uint64_t WordAccess::exchange(std::uint64_t pa, std::uint64_t value, sc_core::sc_time& delay) {
    return atomic(AtomicExt::Op::Exchange, pa, 0, value, delay);
}

std::uint64_t WordAccess::compare_and_swap(std::uint64_t pa, std::uint64_t expected, std::uint64_t value,
                                           sc_core::sc_time& delay) {
    return atomic(AtomicExt::Op::CompareAndSwap, pa, expected, value, delay);
}

}  // namespace mmusim::memory
