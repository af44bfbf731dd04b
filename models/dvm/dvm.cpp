#include "models/dvm/dvm.h"

#include <string>

#include "models/dvm/tlbi_ext.h"

namespace mmusim::dvm {

Dvm::Dvm(sc_core::sc_module_name name, unsigned cores) : sc_core::sc_module(name), socket("socket") {
    socket.register_b_transport(this, &Dvm::b_transport);
    for (unsigned i = 0; i < cores; ++i)
        m_to_mmu.push_back(std::make_unique<tlm_utils::simple_initiator_socket<Dvm>>(("to_mmu_" + std::to_string(i)).c_str()));
}

void Dvm::b_transport(tlm::tlm_generic_payload& trans, sc_core::sc_time& delay) {
    TlbiExt* tlbi = nullptr;
    trans.get_extension(tlbi);
    if (tlbi == nullptr || tlbi->source_core >= m_to_mmu.size()) {
        trans.set_response_status(tlm::TLM_GENERIC_ERROR_RESPONSE);
        return;
    }
    if (arch::tlbi_is_broadcast(tlbi->op)) {
        for (auto& s : m_to_mmu) (*s)->b_transport(trans, delay);
    } else {
        (*m_to_mmu[tlbi->source_core])->b_transport(trans, delay);
    }
    trans.set_response_status(tlm::TLM_OK_RESPONSE);
}

}  // namespace mmusim::dvm
