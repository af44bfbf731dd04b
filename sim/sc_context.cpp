#include "sim/sc_context.h"

#include <systemc>

#include "sim/logging.h"

// libsystemc's own main() calls sc_main; this program has its own main, so this is never run.
int sc_main(int, char**) { return 1; }

namespace mmusim::sim {

void fresh_systemc_context() {
    delete sc_core::sc_curr_simcontext;
    sc_core::sc_curr_simcontext = new sc_core::sc_simcontext();
    sc_core::sc_default_global_context = sc_core::sc_curr_simcontext;
    route_systemc_reports();
}

}  // namespace mmusim::sim
