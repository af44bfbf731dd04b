// Simulated time is kept in SystemC time with one cycle = 1 ns, so that cycle counts are
// exact integers whatever the core clock. Reported figures are cycles.
#pragma once

#include <cstdint>

#include <systemc>

namespace mmusim {

inline sc_core::sc_time cycles_to_time(std::uint64_t cycles) {
    return sc_core::sc_time::from_value(cycles * 1000);  // default resolution: 1 ps
}
inline std::uint64_t time_to_cycles(const sc_core::sc_time& t) { return t.value() / 1000; }

}  // namespace mmusim
