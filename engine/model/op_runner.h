// One operator of the planner's graph, forward and backward, on a block of its task's batch
// rows: the one place that maps an operator kind onto layers and kernels. The one-device model
// (model.h) runs every operator on all rows; a rank (engine/runner/rank_runner.h) runs its own rows
// of its slices. A loss on a block of rows yields that block's share of the task's mean loss
// (so the shares of a partition of the batch sum to the loss, and their gradients too).
#pragma once

#include <cstdint>
#include <vector>

#include "engine/model/layers/projection_head.h"
#include "engine/model/layers/resampler.h"
#include "engine/model/layers/transformer_block.h"
#include "engine/model/task_batch.h"
#include "engine/model/weight_store.h"

namespace spindle::engine {

// InfoNCE temperature (CLIP's initial 0.07, fixed: the planner's loss has no parameters).
inline constexpr float kContrastiveTemperature = 0.07f;

// The operators whose outputs an operator reads: data inputs in concatenation order (outputs
// of other components first, then its own embedded tokens) and cross-attention memory.
struct OpInputs {
  std::vector<int> sources;
  std::vector<int> memory;
};
OpInputs op_inputs(const Graph& g, int op);

// Rows [first, last) of a task batch of `batch` samples.
struct RowBlock {
  std::int64_t first = 0, last = 0, batch = 0;
  std::int64_t rows() const { return last - first; }
};

// What forward keeps for backward.
struct OpState {
  Tensor in, mem, aux, labels;
  BlockCtx block;
  ResamplerCtx resampler;
  HeadCtx head;
  float loss = 0;  // a loss operator: the block's share of the task's mean loss
};

// Concatenates [B, S_i, D] tensors along tokens (one part: itself).
Tensor concat_tokens(Backend& be, const std::vector<Tensor>& parts);
// Writes (or adds) the token ranges of `d`, as concat_tokens laid them out, into `parts`.
void split_tokens(Backend& be, const Tensor& d, std::vector<Tensor>& parts, bool accumulate);

// Rows [first, last) of what operator `op` reads of a batch: its component's input (a patch
// or token embedding) or the labels (an LM head).
TaskBatch batch_rows(const TaskBatch& b, const Operator& op, std::int64_t first, std::int64_t last);

class OpRunner {
 public:
  OpRunner(Backend& be, WeightStore& ws) : be_(be), ws_(ws) {}

  // `in`: the concatenated data input of the block's rows, except for a contrastive loss: both
  // embeddings of all B rows, [B, 2, D]; `mem`: the concatenated memory; `data`: the block's
  // raw inputs and labels. Returns the output (empty for a loss: its share is in st.loss).
  // `shards`: how a rank runs a layer that tensor parallelism splits (null: the whole layer).
  Tensor forward(const Operator& op, const RowBlock& rows, const TaskBatch& data, const Tensor& in, const Tensor& mem,
                 OpState& st, const LayerShards* shards = nullptr);
  // Adds into din (shaped as `in`), dmem (when the operator reads memory) and the weight
  // gradients; `dout` is the gradient of the output (unused by losses, whose dloss is 1). A
  // rank holding several shards adds the replicated tensors' gradients into each one's copy.
  void backward(const Operator& op, const RowBlock& rows, OpState& st, const Tensor& dout, Tensor& din, Tensor& dmem,
                const LayerShards* shards = nullptr);

 private:
  Backend& be_;
  WeightStore& ws_;
};

}  // namespace spindle::engine
