// The model of a scenario, executed operator by operator from the planner's graph: each task's
// chain of embeddings, transformer blocks, resamplers, heads and its loss, forward and then
// backward, with the weights of weight_store.h. Several inputs of an operator are concatenated
// along tokens (inputs in the component's `inputs` order, then its own embedded tokens), a
// decoder's cross-attention reads its `cross_inputs`, and an LM head scores the last tokens
// of its input (the decoder's own text).
#pragma once

#include <vector>

#include "engine/model/task_batch.h"
#include "engine/model/weight_store.h"

namespace spindle::engine {

class Model {
 public:
  Model(const Scenario& s, const Graph& g, Backend& backend, std::uint64_t seed);

  // Forward and backward of one task on one batch; weight gradients accumulate into the
  // store (zero them per iteration). Returns the task's mean loss.
  float train_task(int task, const TaskBatch& batch);

  WeightStore& weights() { return weights_; }
  const Graph& graph() const { return g_; }

 private:

  const Scenario& s_;
  const Graph& g_;
  Backend& be_;
  WeightStore weights_;
  std::vector<std::vector<int>> task_ops_;  // operator ids per task, in graph (topological) order
};

}  // namespace spindle::engine
