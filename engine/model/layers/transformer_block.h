// A pre-norm transformer block, the encoder and decoder layer of the planner's graph:
// h = x + attn(ln1 x) (causal or not); for a decoder with memory, h += cross(lnc h, memory);
// y = h + mlp(ln2 h) with a GELU or SwiGLU MLP. Weights "<group>/ln1.g", ".../attn.wq", ...
// Under tensor parallelism (layer_shards.h) attention and MLP run on the held shards, their
// outputs all-reduced over the TP group (2 per block, 3 with cross-attention) and their input
// gradients too (2, or 4: the cross-attention's query input and its memory).
#pragma once

#include <string>
#include <vector>

#include "engine/model/layers/attention_layer.h"
#include "engine/model/layers/norm_layer.h"
#include "planner/config/model_spec.h"

namespace spindle::engine {

struct BlockSpec {
  int heads = 1;
  bool causal = false;
  Mlp mlp = Mlp::kGelu;
  bool cross = false;  // reads a memory through cross-attention
};

struct BlockCtx {
  NormCtx ln1, lnc, ln2;
  AttentionCtx attn, cross;
  Tensor h1, h2;  // residual stream after attention / cross-attention
  struct MlpShard {
    Tensor pre, up, act;
  };
  std::vector<MlpShard> mlp;  // one per held shard
};

// `memory` [B, M, H] is read when spec.cross.
Tensor block_forward(Backend& be, WeightStore& ws, const LayerShards& ls, const BlockSpec& spec, const Tensor& x,
                     const Tensor& memory, BlockCtx& ctx);
// Adds into dx, dmemory (when spec.cross) and the weight gradients.
void block_backward(Backend& be, WeightStore& ws, const LayerShards& ls, const BlockSpec& spec,
                    const BlockCtx& ctx, const Tensor& dy, Tensor& dx, Tensor& dmemory);

}  // namespace spindle::engine
