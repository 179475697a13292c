// Projection head forward and backward (see projection_head.h).
#include "engine/model/layers/projection_head.h"

namespace spindle::engine {

Tensor projection_head_forward(Backend& be, WeightStore& ws, const std::string& group, std::int64_t out_tokens,
                               const Tensor& x, HeadCtx& ctx) {
  const std::string g = group + "/";
  Tensor n = norm_forward(be, ws, g + "ln.", x, ctx.ln);
  ctx.pooled = be.alloc({x.dim(0), out_tokens, x.dim(2)});
  be.mean_pool_forward(n, ctx.pooled);
  const Tensor& w = ws.value(g + "proj.w");
  Tensor y = be.alloc({x.dim(0), out_tokens, w.dim(0)});
  be.linear_forward(ctx.pooled, w, ws.value(g + "proj.b"), y);
  return y;
}

void projection_head_backward(Backend& be, WeightStore& ws, const std::string& group, const HeadCtx& ctx,
                              const Tensor& dy, Tensor& dx) {
  const std::string g = group + "/";
  Tensor dpooled = be.alloc(ctx.pooled.shape()), dn = be.alloc(ctx.ln.y.shape());
  be.linear_backward(ctx.pooled, ws.value(g + "proj.w"), dy, dpooled, ws.grad(g + "proj.w"), ws.grad(g + "proj.b"));
  be.mean_pool_backward(dpooled, dn);
  norm_backward(be, ws, g + "ln.", ctx.ln, dn, dx);
}

}  // namespace spindle::engine
