// One task's batch as the model reads it: raw inputs for every component of the task that
// embeds data (patch features or token ids), and the labels of a cross-entropy task's LM
// head. synthetic_data.h makes them.
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

}  // namespace spindle::engine
