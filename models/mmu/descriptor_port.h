// How the walker reaches page-table memory: a read and a compare-and-swap of one descriptor,
// each returning its annotated delay. The Mmu implements it with TLM transactions.
#pragma once

#include <cstdint>

#include <systemc>

namespace mmusim::mmu {

class DescriptorPort {
public:
    virtual ~DescriptorPort() = default;
    virtual std::uint64_t read_descriptor(std::uint64_t pa, sc_core::sc_time& delay) = 0;
    // Atomically replaces `expected` with `value`; returns the value found.
    virtual std::uint64_t cas_descriptor(std::uint64_t pa, std::uint64_t expected, std::uint64_t value,
                                         sc_core::sc_time& delay) = 0;
};

}  // namespace mmusim::mmu
