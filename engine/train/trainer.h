// Training on one device: every iteration runs each task on its next batch (tasks in scenario
// order, gradients of shared weights accumulating), clips the global gradient norm and takes
// one AdamW step. The iteration's loss is the sum over tasks of each task's mean loss.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "engine/model/training_state.h"
#include "engine/model/model.h"
#include "engine/model/synthetic_data.h"
#include "engine/model/train_options.h"

namespace spindle::engine {

class Trainer {
 public:
  // `scenario` is the model as trained (already scaled).
  Trainer(const Scenario& scenario, Backend& backend, const TrainOptions& options);

  StepResult step();
  std::int64_t steps_done() const { return step_; }
  const Scenario& scenario() const { return s_; }
  Model& model() { return *model_; }

  // A checkpoint in `dir` in the sharded format (model/sharded_checkpoint.h: one rank file
  // holding every element, then the manifest), which any plan on any number of devices resumes;
  // load reads one written by any run. InputError when it does not fit.
  void save(const std::filesystem::path& dir);
  void load(const std::filesystem::path& dir);

 private:
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
