// What a training run is asked for (seed, AdamW with warm-up, gradient clipping) and what one
// iteration reports, shared by the one-device trainer (engine/train/) and the ranks of a
// plan's execution (engine/runner/).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/backend.h"

namespace spindle::engine {

struct TrainOptions {
  std::uint64_t seed = 1;
  std::string scale = "full";  // recorded in checkpoints
  AdamWParams adam{1e-3f, 0.9f, 0.95f, 1e-8f, 0.01f};
  int warmup_steps = 10;       // linear learning-rate warm-up, then constant
  double clip_norm = 1.0;      // global gradient norm clip (0: none)
  // How activations, their gradients and transfers are stored: fp32, or bf16 (weights,
  // gradients and optimizer state stay fp32; the CPU backend computes in fp32 either way).
  DType activation_dtype = DType::kF32;
};

// The AdamW hyper-parameters of iteration `step` (1-based): the warmed-up learning rate, the
// clip factor of the global gradient norm as grad_scale (1 below the clip), and the weight
// decay of the weights that take it (AdamWSlice::weight_decay: 0 for the others).
AdamWParams step_params(const TrainOptions& options, std::int64_t step, double grad_norm);

struct StepResult {
  std::int64_t step = 0;         // 1-based number of the iteration just done
  std::vector<float> task_loss;  // per task, scenario order
  double loss = 0;               // sum of task losses
  double grad_norm = 0;          // before clipping
};

}  // namespace spindle::engine
