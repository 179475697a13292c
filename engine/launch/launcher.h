// What starts a plan's ranks and runs them one iteration at a time, as spindle-run sees it:
// threads in one process (thread_launcher.h) or one process per rank under MPI
// (mpi_launcher.h). Under MPI every process holds one rank and every call here is collective.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "engine/model/training_state.h"
#include "engine/model/train_options.h"
#include "engine/runner/rank_runner.h"

namespace spindle::engine {

class Launcher {
 public:
  virtual ~Launcher() = default;
  // One iteration of every rank; the losses are the ranks' shares added in rank order.
  virtual StepResult step() = 0;
  virtual std::int64_t steps_done() const = 0;
  virtual int devices() const = 0;
  // Parameters of the model, each weight counted once over the ranks.
  virtual std::int64_t parameters() const = 0;
  // What each device did in the last iteration, by device id.
  virtual std::vector<DeviceCounters> counters() const = 0;
  // Each device's allocator by part (memory_parts.h), peaks from its first iteration on.
  virtual std::vector<MemoryUse> memory() const = 0;
  // The Chrome trace (execution_trace.h) of the iteration of median time among the last
  // kTraceWindow (trace_window.h); `label` names the plan. Under MPI rank 0 merges every
  // rank's timeline and gets the text, the other ranks "".
  virtual std::string trace_json(const std::string& label) const = 0;
  // Which iteration trace_json shows and how many it was chosen from.
  virtual std::pair<std::int64_t, int> traced_iteration() const = 0;
  // Writes the state after the last iteration as a sharded checkpoint in `dir`
  // (model/sharded_checkpoint.h: a file per rank, the manifest last).
  virtual void save_checkpoint(const std::filesystem::path& dir) = 0;
  // Resumes from a sharded checkpoint written under any plan and number of ranks: weights,
  // moments, step and data positions. InputError naming the file when it does not fit.
  virtual void load_checkpoint(const std::filesystem::path& dir) = 0;
  // Whether this process prints and writes the run's outputs (under MPI: rank 0 only).
  virtual bool writes_outputs() const { return true; }
};

}  // namespace spindle::engine
