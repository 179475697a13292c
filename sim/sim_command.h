// What `spindle-sim SCENARIO` does, behind its flags: a study file runs its points (one
// process each); `--collective` runs the nccl-tests-style microbenchmark; otherwise the
// scenario goes through the pipeline (planner/pipeline.h), is simulated unless --plan-only,
// and its run folder (summary, plans, traces, results, report) is written. The main only
// parses flags into SimCommand.
#pragma once

#include <string>
#include <vector>

#include "sim/study/study_runner.h"

namespace spindle {

struct SimCommand {
  std::string scenario_file;
  std::vector<std::string> sets;   // --set KEY=VALUE
  bool json = false;               // summary on stdout as JSON
  std::string dump_dir;            // graph.dot and metagraph.dot
  std::string out_dir;             // the run folder (default out/<scenario> when simulating)
  std::string profile_file;        // calibration profile (HDF5)
  std::string scale = "full";      // --scale: the model shrunk as spindle-run's --scale shrinks it
  bool explain_cost = false;
  bool plan_only = false;
  std::vector<std::string> systems;
  std::string plan_file;           // a plan file read back
  std::string programs_dir;        // per-device program text
  std::string collective;          // microbenchmark instead of plans
  std::string compare_file;        // published nccl-tests results to compare with
  int bench_gpus = 0;
  bool bench_gpus_set = false;
  bool ring_steps = false;
  // Studies.
  StudyOptions study;
  bool jobs_set = false;
  std::string shard;               // I/N
  int point = -1;                  // run only point K (what the study runner starts)
};

// Runs it; returns the exit code. Throws InputError for flags that do not go together.
int run_sim_command(SimCommand c);

}  // namespace spindle
