// Attention layer (see attention_layer.h).
#include "engine/model/layers/attention_layer.h"

namespace spindle::engine {

Tensor attention_layer_forward(Backend& be, WeightStore& ws, const std::string& prefix, const Tensor& xq,
                               const Tensor& xkv, int heads, bool causal, AttentionCtx& ctx) {
  const std::int64_t b = xq.dim(0), sq = xq.dim(1), sk = xkv.dim(1), d = ws.value(prefix + "wq").dim(0);
  ctx.xq = xq;
  ctx.xkv = xkv;
  ctx.q = be.alloc({b, sq, d});
  ctx.k = be.alloc({b, sk, d});
  ctx.v = be.alloc({b, sk, d});
  be.linear_forward(xq, ws.value(prefix + "wq"), ws.value(prefix + "bq"), ctx.q);
  be.linear_forward(xkv, ws.value(prefix + "wk"), ws.value(prefix + "bk"), ctx.k);
  be.linear_forward(xkv, ws.value(prefix + "wv"), ws.value(prefix + "bv"), ctx.v);
  ctx.probs = be.alloc({b, heads, sq, sk});
  ctx.mixed = be.alloc({b, sq, d});
  be.attention_forward(ctx.q, ctx.k, ctx.v, heads, causal, ctx.mixed, ctx.probs);
  Tensor out = be.alloc({b, sq, d});
  be.linear_forward(ctx.mixed, ws.value(prefix + "wo"), ws.value(prefix + "bo"), out);
  return out;
}

void attention_layer_backward(Backend& be, WeightStore& ws, const std::string& prefix, const AttentionCtx& ctx,
                              int heads, const Tensor& dout, Tensor& dxq, Tensor& dxkv) {
  Tensor dmixed = be.alloc(ctx.mixed.shape());
  be.linear_backward(ctx.mixed, ws.value(prefix + "wo"), dout, dmixed, ws.grad(prefix + "wo"), ws.grad(prefix + "bo"));
  Tensor dq = be.alloc(ctx.q.shape()), dk = be.alloc(ctx.k.shape()), dv = be.alloc(ctx.v.shape());
  be.attention_backward(ctx.q, ctx.k, ctx.v, ctx.probs, heads, dmixed, dq, dk, dv);
  be.linear_backward(ctx.xq, ws.value(prefix + "wq"), dq, dxq, ws.grad(prefix + "wq"), ws.grad(prefix + "bq"));
  be.linear_backward(ctx.xkv, ws.value(prefix + "wk"), dk, dxkv, ws.grad(prefix + "wk"), ws.grad(prefix + "bk"));
  be.linear_backward(ctx.xkv, ws.value(prefix + "wv"), dv, dxkv, ws.grad(prefix + "wv"), ws.grad(prefix + "bv"));
}

}  // namespace spindle::engine
