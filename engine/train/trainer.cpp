// The training loop's iteration, checkpoint save and load (see trainer.h).
#include "engine/train/trainer.h"

#include <algorithm>
#include <cmath>

#include "engine/model/sharded_checkpoint.h"
#include "planner/graph/graph_builder.h"

namespace spindle::engine {

Trainer::Trainer(const Scenario& scenario, Backend& backend, const TrainOptions& options)
    : s_(scenario),
      g_(build_graph(s_)),
      be_(backend),
      opt_(options),
      model_(std::make_unique<Model>(s_, g_, backend, options.seed)),
      data_(s_, g_, options.seed),
      position_(s_.tasks.size(), 0) {
  be_.set_activation_dtype(options.activation_dtype);
}

StepResult Trainer::step() {
  WeightStore& ws = model_->weights();
  for (auto& [name, p] : ws.params()) be_.zero(p.grad);
  StepResult r;
  for (size_t t = 0; t < s_.tasks.size(); ++t) {
    const TaskBatch batch = data_.batch(static_cast<int>(t), position_[t]);
    const float loss = model_->train_task(static_cast<int>(t), batch);
    position_[t] += s_.tasks[t].batch;
    r.task_loss.push_back(loss);
    r.loss += loss;
  }
  std::vector<Tensor> grads;
  for (auto& [name, p] : ws.params()) grads.push_back(p.grad);
  r.grad_norm = std::sqrt(be_.sum_squares(grads));
  ++step_;
  const AdamWParams hp = step_params(opt_, step_, r.grad_norm);  // clipping as the step reads the gradients
  std::vector<AdamWSlice> slices;  // one multi-tensor step
  for (auto& [name, p] : ws.params()) slices.push_back({p.value, p.grad, p.m, p.v, p.decay ? hp.weight_decay : 0.0f});
  be_.adamw_step(slices, hp, step_);
  r.step = step_;
  return r;
}

void Trainer::save(const std::filesystem::path& dir) {
  std::vector<std::pair<std::string, ElementRanges>> all;  // one device counts every element
  for (const auto& [name, p] : model_->weights().params()) all.emplace_back(name, ElementRanges{{0, p.value.numel()}});
  const TrainingState st = training_state(s_, opt_, step_, position_);
  write_manifest(dir, st, {write_rank_shard(dir, 0, 1, st, be_, model_->weights(), all)});
}

void Trainer::load(const std::filesystem::path& dir) {
  const ShardedCheckpoint ck(dir, training_state(s_, opt_, step_, position_));
  ck.load_into(be_, model_->weights());
  step_ = ck.state().step;
  position_ = task_positions(s_, ck.state());
}

}  // namespace spindle::engine
