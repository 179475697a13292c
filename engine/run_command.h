// What `spindle-run SCENARIO` does, behind its flags: trains the scenario's model (scaled
// down with --scale) on synthetic learnable data, either on one device of a backend (the
// reference trainer, with checkpoints) or as a plan's ranks (a system's plan, or a plan file,
// lowered by the pipeline for N logical devices); prints the losses and writes metrics, the
// plan that ran and a Chrome trace of a typical iteration (trace_window.h). Started by an MPI launcher with more
// than one rank (mpirun -np N, srun), each process runs one rank of the plan for N devices
// (launch/mpi_launcher.h) and rank 0 prints and writes the outputs. The main only parses flags.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/model/train_options.h"

namespace spindle::engine {

struct RunCommand {
  std::string scenario_file;
  std::vector<std::string> sets;  // --set KEY=VALUE
  std::string backend = "cpu";
  std::string scale = "full";
  int devices = 1;
  bool devices_set = false;       // --devices given (under MPI it must equal the ranks)
  std::string system = "spindle";
  bool system_set = false;        // --system given (runs a plan even on one device)
  std::string plan_file, save_plan, trace, metrics, checkpoint_dir;
  std::int64_t steps = 100, checkpoint_every = 0, log_every = 50;
  std::int64_t seed = -1;         // < 0: the scenario's
  bool resume = false;
  bool memory_report = false;
  std::string dtype = "fp32";     // activation storage: fp32 or bf16
  float lr = TrainOptions{}.adam.lr;
};

// Runs it; returns the exit code. Throws InputError for flags that do not go together.
int run_command(const RunCommand& c);

}  // namespace spindle::engine
