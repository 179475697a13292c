// What a checkpoint records besides the weights and their optimizer state: the step reached,
// the seed and scale the run was started with, and each task's data position (next sample).
// A resumed run must match seed, scale and tasks (model/sharded_checkpoint.h).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace spindle::engine {

struct TrainingState {
  std::int64_t step = 0;
  std::uint64_t seed = 0;
  std::string scale;
  std::vector<std::pair<std::string, std::int64_t>> positions;  // task name -> next sample
};

}  // namespace spindle::engine
