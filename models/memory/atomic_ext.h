// TLM extension for the atomic descriptor operations the kernel performs on page tables.
// A plain read or write needs no extension; an exchange or compare-and-swap carries one.
#pragma once

#include <cstdint>

#include <tlm>

namespace mmusim::memory {

struct AtomicExt : tlm::tlm_extension<AtomicExt> {
    enum class Op : std::uint8_t { Exchange, CompareAndSwap };
    Op op = Op::Exchange;
    std::uint64_t value = 0;     // value to store
    std::uint64_t expected = 0;  // CompareAndSwap: store only if the old value equals this
    std::uint64_t old = 0;       // out: the value found
    bool stored = false;         // out: whether `value` was stored

    tlm::tlm_extension_base* clone() const override { return new AtomicExt(*this); }
    void copy_from(const tlm::tlm_extension_base& other) override {
        *this = static_cast<const AtomicExt&>(other);
    }
};

}  // namespace mmusim::memory
