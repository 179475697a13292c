// A projection head: layer norm, mean pooling to the head's output tokens, linear map to its
// width: CLIP's heads into the joint space (1 token) and Qwen-Audio's 2x pooling adapter.
// Weights "<group>/ln.g", ".../ln.b", ".../proj.w", ".../proj.b".
#pragma once

#include <string>

#include "engine/model/layers/norm_layer.h"

namespace spindle::engine {

struct HeadCtx {
  NormCtx ln;
  Tensor pooled;
};

Tensor projection_head_forward(Backend& be, WeightStore& ws, const std::string& group, std::int64_t out_tokens,
                               const Tensor& x, HeadCtx& ctx);
void projection_head_backward(Backend& be, WeightStore& ws, const std::string& group, const HeadCtx& ctx,
                              const Tensor& dy, Tensor& dx);

}  // namespace spindle::engine
