// One initiator's 64-bit word traffic to PhysMem over TLM: read, write, exchange and
// compare-and-swap, each a b_transport on one reused payload (nothing allocates). Used by the
// walker (descriptor reads, hardware A/D updates) and by the kernel (PTE operations).
#pragma once

#include <cstdint>

#include <systemc>
#include <tlm>

#include "models/memory/atomic_ext.h"
#include "models/memory/walker_access_ext.h"

namespace mmusim::memory {

class WordAccess {
public:
    explicit WordAccess(tlm::tlm_initiator_socket<>& socket);
    ~WordAccess();
    WordAccess(const WordAccess&) = delete;
    WordAccess& operator=(const WordAccess&) = delete;

    std::uint64_t read(std::uint64_t pa, sc_core::sc_time& delay);
    void write(std::uint64_t pa, std::uint64_t value, sc_core::sc_time& delay);
    // Both return the value found; compare_and_swap stores only if it equals `expected`.
    std::uint64_t exchange(std::uint64_t pa, std::uint64_t value, sc_core::sc_time& delay);
    std::uint64_t compare_and_swap(std::uint64_t pa, std::uint64_t expected, std::uint64_t value, sc_core::sc_time& delay);
    // A debug read (transport_dbg): no time, not an access of the model.
    std::uint64_t peek(std::uint64_t pa);
    // Marks every access from now on as one of a table walker: `ext` (owned by the caller,
    // who outlives this object) stays on the payload and tells PhysMem whose caches to use.
    void mark_walker(WalkerAccessExt* ext);

private:
    void transport(tlm::tlm_command cmd, std::uint64_t pa, sc_core::sc_time& delay);
    std::uint64_t atomic(AtomicExt::Op op, std::uint64_t pa, std::uint64_t expected, std::uint64_t value,
                         sc_core::sc_time& delay);

    tlm::tlm_initiator_socket<>& m_socket;
    tlm::tlm_generic_payload m_trans;
    std::uint64_t m_data = 0;
    // The debug payload of peek(), set up once: a payload allocates its extension array when
    // constructed, and peek() is on the TLB-hit path of multi-core runs (stale-hit checks).
    tlm::tlm_generic_payload m_debug;
    std::uint64_t m_debug_data = 0;
    AtomicExt m_atomic;
    WalkerAccessExt* m_walker = nullptr;
};

}  // namespace mmusim::memory
