// Where training data comes from, per task and sample position: raw inputs for every
// component of the task that embeds data (patch features or token ids), and the labels of a
// cross-entropy task's LM head. Synthetic data today (synthetic_data.h); real loaders later.
#pragma once

#include <cstdint>
#include <map>
#include <vector>

#include "engine/tensor.h"

namespace spindle::engine {

struct HostInput {
  Dims dims;                         // [B, T, P] features or [B, T] token ids
  std::vector<float> features;       // patch embedding input
  std::vector<std::int32_t> ids;     // token embedding input
};

struct TaskBatch {
  std::map<int, HostInput> inputs;   // by component index
  Dims label_dims;                   // [B, T] for a cross-entropy task, empty otherwise
  std::vector<std::int32_t> labels;
};

class DataSource {
 public:
  virtual ~DataSource() = default;
  // Samples [first, first + batch) of task `task`: a pure function of its arguments, so a
  // resumed run that knows its data position reads exactly what the uninterrupted run read.
  virtual TaskBatch batch(int task, std::int64_t first) = 0;
};

}  // namespace spindle::engine
