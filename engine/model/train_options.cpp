// The learning-rate schedule (see train_options.h).
#include "engine/model/train_options.h"

namespace spindle::engine {

AdamWParams step_params(const TrainOptions& options, std::int64_t step, bool decay) {
  AdamWParams hp = options.adam;
  if (step <= options.warmup_steps) hp.lr *= static_cast<float>(step) / static_cast<float>(options.warmup_steps);
  if (!decay) hp.weight_decay = 0;
  return hp;
}

}  // namespace spindle::engine
