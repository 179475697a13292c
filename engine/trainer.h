// Training on one device: every iteration runs each task on its next batch (tasks in scenario
// order, gradients of shared weights accumulating), clips the global gradient norm and takes
// one AdamW step. The iteration's loss is the sum over tasks of each task's mean loss.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "engine/checkpoint.h"
#include "engine/model.h"
#include "engine/synthetic_data.h"

namespace spindle::engine {

struct TrainOptions {
  std::uint64_t seed = 1;
  std::string scale = "full";  // recorded in checkpoints
  AdamWParams adam{1e-3f, 0.9f, 0.95f, 1e-8f, 0.01f};
  int warmup_steps = 10;       // linear learning-rate warm-up, then constant
  double clip_norm = 1.0;      // global gradient norm clip (0: none)
};

// The AdamW hyper-parameters of iteration `step` (1-based): the warmed-up learning rate, and
// weight decay only for weights that take it.
AdamWParams step_params(const TrainOptions& options, std::int64_t step, bool decay);

struct StepResult {
  std::int64_t step = 0;         // 1-based number of the iteration just done
  std::vector<float> task_loss;  // per task, scenario order
  double loss = 0;               // sum of task losses
  double grad_norm = 0;          // before clipping
};

class Trainer {
 public:
  // `scenario` is the model as trained (already scaled).
  Trainer(const Scenario& scenario, Backend& backend, const TrainOptions& options);

  StepResult step();
  std::int64_t steps_done() const { return step_; }
  const Scenario& scenario() const { return s_; }
  Model& model() { return *model_; }

  void save(const std::filesystem::path& file);
  void load(const std::filesystem::path& file);  // InputError when it does not fit

 private:
  TrainingState state() const;

  Scenario s_;
  Graph g_;
  Backend& be_;
  TrainOptions opt_;
  std::unique_ptr<Model> model_;
  SyntheticData data_;
  std::int64_t step_ = 0;
  std::vector<std::int64_t> position_;  // per task: next sample
};

}  // namespace spindle::engine
