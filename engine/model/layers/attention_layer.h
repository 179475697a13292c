// Multi-head attention with its projections: q = xq Wq^T + bq, k and v from xkv likewise,
// out = attention(q, k, v) Wo^T + bo. xq = xkv is self-attention; a different xkv is
// cross-attention (a decoder reading the encoder, a resampler's queries reading the input).
#pragma once

#include <string>

#include "engine/model/weight_store.h"

namespace spindle::engine {

struct AttentionCtx {
  Tensor xq, xkv, q, k, v, probs, mixed;
};

Tensor attention_layer_forward(Backend& be, WeightStore& ws, const std::string& prefix, const Tensor& xq,
                               const Tensor& xkv, int heads, bool causal, AttentionCtx& ctx);
// Adds into dxq and dxkv (which may be the same tensor for self-attention) and the weights.
void attention_layer_backward(Backend& be, WeightStore& ws, const std::string& prefix, const AttentionCtx& ctx,
                              int heads, const Tensor& dout, Tensor& dxq, Tensor& dxkv);

}  // namespace spindle::engine
