// Every test runs with the invariant checker on: the runs a test makes in this process
// (tests/sim/sim_test_util.h, the kernel fixture) turn it on themselves, and the mmusim
// processes the CLI tests start inherit MMUSIM_CHECK=1, which `run`, `compare` and `sweep`
// read as --check.
#include <cstdlib>

namespace {
const bool kCheckEnvironment = [] { return ::setenv("MMUSIM_CHECK", "1", 1) == 0; }();
}  // namespace
