// Qwen-VL's resampler (the planner's cross-attention operator): learned queries [Q, Dout]
// attend to the layer-normed input [B, S, Din] and become the output [B, Q, Dout].
// Weights "<group>/queries", ".../ln.g", ".../attn.wq" ...
#pragma once

#include <string>

#include "engine/model/layers/attention_layer.h"
#include "engine/model/layers/norm_layer.h"

namespace spindle::engine {

struct ResamplerCtx {
  NormCtx ln;
  AttentionCtx attn;
  Tensor queries;  // [B, Q, Dout], the learned queries repeated over the batch
};

// Under tensor parallelism the attention splits by heads (attention_layer.h): 1 all-reduce
// forward, 2 backward (the queries' and the input's gradients).
Tensor resampler_forward(Backend& be, WeightStore& ws, const LayerShards& ls, int heads, const Tensor& x,
                         ResamplerCtx& ctx);
void resampler_backward(Backend& be, WeightStore& ws, const LayerShards& ls, int heads, const ResamplerCtx& ctx,
                        const Tensor& dy, Tensor& dx);

}  // namespace spindle::engine
