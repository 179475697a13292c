// A layer norm with its weights "<prefix>g", "<prefix>b" and what it keeps for backward:
// the building block the transformer block, resampler and projection head share.
#pragma once

#include <string>

#include "engine/model/weight_store.h"

namespace spindle::engine {

struct NormCtx {
  Tensor x, y, mean, rstd;
};

Tensor norm_forward(Backend& be, WeightStore& ws, const std::string& prefix, const Tensor& x, NormCtx& ctx);
// Adds into dx and the weight gradients.
void norm_backward(Backend& be, WeightStore& ws, const std::string& prefix, const NormCtx& ctx, const Tensor& dy,
                   Tensor& dx);

}  // namespace spindle::engine
