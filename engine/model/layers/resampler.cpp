// Resampler forward and backward (see resampler.h).
#include "engine/model/layers/resampler.h"

namespace spindle::engine {

Tensor resampler_forward(Backend& be, WeightStore& ws, const LayerShards& ls, int heads, const Tensor& x,
                         ResamplerCtx& ctx) {
  const std::string g = ls.replicated() + "/";
  const Tensor& q = ws.value(g + "queries");
  ctx.queries = be.alloc({x.dim(0), q.dim(0), q.dim(1)});
  be.repeat_batch(q, ctx.queries);
  Tensor n = norm_forward(be, ws, g + "ln.", x, ctx.ln);
  return attention_layer_forward(be, ws, ls, "attn.", ctx.queries, n, heads, false, ctx.attn);
}

void resampler_backward(Backend& be, WeightStore& ws, const LayerShards& ls, int heads, const ResamplerCtx& ctx,
                        const Tensor& dy, Tensor& dx) {
  const std::string g = ls.replicated() + "/";
  Tensor dq = be.alloc(ctx.queries.shape()), dn = be.alloc(ctx.ln.y.shape());
  attention_layer_backward(be, ws, ls, "attn.", ctx.attn, heads, dy, dq, dn);
  be.repeat_batch_backward(dq, ws.grad(g + "queries"));
  norm_backward(be, ws, g + "ln.", ctx.ln, dn, dx);
}

}  // namespace spindle::engine
