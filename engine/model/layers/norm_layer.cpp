// Layer norm layer (see norm_layer.h).
#include "engine/model/layers/norm_layer.h"

namespace spindle::engine {

Tensor norm_forward(Backend& be, WeightStore& ws, const std::string& prefix, const Tensor& x, NormCtx& ctx) {
  ctx.x = x;
  ctx.y = be.alloc(x.shape());
  ctx.mean = be.alloc({x.rows()}, DType::kF32);  // statistics stay fp32 under bf16 storage
  ctx.rstd = be.alloc({x.rows()}, DType::kF32);
  be.layer_norm_forward(x, ws.value(prefix + "g"), ws.value(prefix + "b"), ctx.y, ctx.mean, ctx.rstd);
  return ctx.y;
}

void norm_backward(Backend& be, WeightStore& ws, const std::string& prefix, const NormCtx& ctx, const Tensor& dy,
                   Tensor& dx) {
  be.layer_norm_backward(ctx.x, ws.value(prefix + "g"), ctx.mean, ctx.rstd, dy, dx, ws.grad(prefix + "g"),
                         ws.grad(prefix + "b"));
}

}  // namespace spindle::engine
