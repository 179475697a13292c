// What a checkpoint records besides the weights and their optimizer state: the step reached,
// the seed and scale the run was started with, and each task's data position (next sample).
// A resumed run must match seed, scale and tasks (model/sharded_checkpoint.h).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "engine/model/train_options.h"
#include "planner/config/scenario.h"

namespace spindle::engine {

struct TrainingState {
  std::int64_t step = 0;
  std::uint64_t seed = 0;
  std::string scale;
  std::vector<std::pair<std::string, std::int64_t>> positions;  // task name -> next sample
};

// The state of a run of `s` with options `o` at `step`, with per-task data `positions`
// (scenario order), and back: the positions in scenario order (InternalError when tasks differ).
TrainingState training_state(const Scenario& s, const TrainOptions& o, std::int64_t step,
                             const std::vector<std::int64_t>& positions);
std::vector<std::int64_t> task_positions(const Scenario& s, const TrainingState& st);

}  // namespace spindle::engine
