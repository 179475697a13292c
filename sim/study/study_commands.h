// spindle-sim's subcommands beside `spindle-sim SCENARIO`: `report DIR` (rebuilds the HTML
// report of a run or a study folder; merges a study's shards) and `compare A B`.
#pragma once

namespace spindle {

// True when argv[1] names a subcommand.
bool is_subcommand(int argc, char** argv);

// Runs the subcommand argv[1] with its own flags; returns the exit code.
int run_subcommand(int argc, char** argv);

}  // namespace spindle
