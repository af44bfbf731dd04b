// The DVM fabric: delivers TLBI instructions from the kernel to the Mmus. Inner-shareable
// (broadcast) forms reach every core; local forms only the issuing core.
#pragma once

#include <memory>
#include <vector>

#include <systemc>
#include <tlm>
#include <tlm_utils/simple_initiator_socket.h>
#include <tlm_utils/simple_target_socket.h>

namespace mmusim::dvm {

class Dvm : public sc_core::sc_module {
public:
    tlm_utils::simple_target_socket<Dvm> socket;  // from the kernel

    Dvm(sc_core::sc_module_name name, unsigned cores);

    // Socket towards the Mmu of core `i`.
    tlm_utils::simple_initiator_socket<Dvm>& mmu_socket(unsigned i) { return *m_to_mmu[i]; }

private:
    void b_transport(tlm::tlm_generic_payload& trans, sc_core::sc_time& delay);

    std::vector<std::unique_ptr<tlm_utils::simple_initiator_socket<Dvm>>> m_to_mmu;
};

}  // namespace mmusim::dvm
