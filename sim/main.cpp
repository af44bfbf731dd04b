#include "sim/cli.h"

int main(int argc, char** argv) { return mmusim::sim::cli_main(argc, argv); }
