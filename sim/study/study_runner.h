// Running a study: every point of the sweep is validated first (one bad point stops the study
// with its coordinates), then run as its own `spindle-sim STUDY --point K` process (SimGrid
// allows one engine per process), -j at a time, into DIR/points/<slug>/; a point that ends well
// gets a `done` file, which --resume skips. --shard I/N runs points I, I+N, I+2N, ... (one job
// of a scheduler's array each); `spindle-sim report DIR` merges the shards afterwards.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "sim/study/sweep.h"

namespace spindle {

struct StudyOptions {
  int jobs = 0;  // points at once; 0: the number of CPUs
  bool resume = false;
  int shard = 0, shards = 1;
  std::string out_dir;             // default out/<study name>
  std::vector<std::string> sets;   // --set KEY=VALUE, applied to every point after its sweep values
  std::vector<std::string> pass;   // other flags every point's run gets (--system, --profile, ...)
};

// Parses "I/N" (0 <= I < N); throws InputError naming --shard otherwise.
void parse_shard(const std::string& text, int& shard, int& shards);

// Runs the study; prints progress on stderr and the report's path on stdout. Returns the exit
// code (1 when a point failed).
int run_study(const std::filesystem::path& file, const StudyOptions& options);

// What a point's report shows as its scenario: the coordinates, then the study file.
std::string point_scenario_text(const Study& study, int index);

}  // namespace spindle
