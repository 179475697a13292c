// Multi-head attention with its projections: q = xq Wq^T + bq, k and v from xkv likewise,
// out = attention(q, k, v) Wo^T + bo. xq = xkv is self-attention; a different xkv is
// cross-attention (a decoder reading the encoder, a resampler's queries reading the input).
// Under tensor parallelism (layer_shards.h) each held shard computes its heads' q, k, v with
// its rows of Wq, Wk, Wv and its part of the output with its columns of Wo; the partial
// outputs add up locally and then over the TP group, and so do the input gradients.
#pragma once

#include <string>
#include <vector>

#include "engine/model/layers/layer_shards.h"
#include "engine/model/weight_store.h"

namespace spindle::engine {

struct AttentionCtx {
  Tensor xq, xkv;
  bool causal = false;
  struct Shard {
    Tensor q, k, v, stats, mixed;  // stats: each query row's log-sum-exp (fp32), not the probabilities
  };
  std::vector<Shard> shards;  // one per held shard
};

// `name`: the tensors' prefix inside each shard's group ("attn.", "cross.").
Tensor attention_layer_forward(Backend& be, WeightStore& ws, const LayerShards& ls, const std::string& name,
                               const Tensor& xq, const Tensor& xkv, int heads, bool causal, AttentionCtx& ctx);
// Adds into dxq and dxkv (the same tensor for self-attention: pass it twice) and the weights.
void attention_layer_backward(Backend& be, WeightStore& ws, const LayerShards& ls, const std::string& name,
                              const AttentionCtx& ctx, int heads, const Tensor& dout, Tensor& dxq, Tensor& dxkv);

}  // namespace spindle::engine
