// The command line: mmusim run | compare | validate | platforms (spec/config.md "Command line").
#pragma once

namespace mmusim::sim {

int cli_main(int argc, char** argv);

}  // namespace mmusim::sim
