// The learning-rate schedule and gradient clipping (see train_options.h).
#include "engine/model/train_options.h"

namespace spindle::engine {

AdamWParams step_params(const TrainOptions& options, std::int64_t step, double grad_norm) {
  AdamWParams hp = options.adam;
  if (step <= options.warmup_steps) hp.lr *= static_cast<float>(step) / static_cast<float>(options.warmup_steps);
  if (options.clip_norm > 0 && grad_norm > options.clip_norm) hp.grad_scale = static_cast<float>(options.clip_norm / grad_norm);
  return hp;
}

}  // namespace spindle::engine
