// SystemC keeps one global simulation context, which can be elaborated and run only once.
// Each simulation of this program (a compare runs several, the tests hundreds) starts from a
// fresh context.
#pragma once

namespace mmusim::sim {

void fresh_systemc_context();

}  // namespace mmusim::sim
