// Attention layer (see attention_layer.h).
#include "engine/model/layers/attention_layer.h"

namespace spindle::engine {

Tensor attention_layer_forward(Backend& be, WeightStore& ws, const LayerShards& ls, const std::string& name,
                               const Tensor& xq, const Tensor& xkv, int heads, bool causal, AttentionCtx& ctx) {
  const std::int64_t b = xq.dim(0), sq = xq.dim(1), sk = xkv.dim(1);
  const std::string bias = ls.replicated() + "/" + name + "bo";
  ctx.xq = xq;
  ctx.xkv = xkv;
  ctx.causal = causal;
  ctx.shards.assign(ls.groups.size(), {});
  Tensor out;
  for (size_t j = 0; j < ls.groups.size(); ++j) {
    const std::string p = ls.groups[j] + "/" + name;
    AttentionCtx::Shard& c = ctx.shards[j];
    const std::int64_t wo = ws.value(p + "wo").dim(0), d = ws.value(p + "wq").dim(0);
    c.q = be.alloc({b, sq, d});
    c.k = be.alloc({b, sk, d});
    c.v = be.alloc({b, sk, d});
    be.linear_forward(xq, ws.value(p + "wq"), ws.value(p + "bq"), c.q);
    be.linear_forward(xkv, ws.value(p + "wk"), ws.value(p + "bk"), c.k);
    be.linear_forward(xkv, ws.value(p + "wv"), ws.value(p + "bv"), c.v);
    c.stats = be.alloc({b, heads / ls.of, sq}, DType::kF32);
    c.mixed = be.alloc({b, sq, d});
    be.attention_forward(c.q, c.k, c.v, heads / ls.of, causal, c.mixed, c.stats);
    // The output bias is added once per TP group, by the first shard of its rank 0.
    const Tensor bo = j == 0 && ls.adds_bias ? ws.value(bias) : Tensor();
    Tensor part = be.alloc({b, sq, wo});
    be.linear_forward(c.mixed, ws.value(p + "wo"), bo, part);
    if (j == 0) out = part;
    else copy_flat(be, part, out, true);
  }
  ls.reduce(out);
  return out;
}

void attention_layer_backward(Backend& be, WeightStore& ws, const LayerShards& ls, const std::string& name,
                              const AttentionCtx& ctx, int heads, const Tensor& dout, Tensor& dxq, Tensor& dxkv) {
  const bool self = &dxq == &dxkv;
  // Across a TP group the input gradients are partial sums: gathered in fresh tensors, reduced,
  // then added to what the caller's tensors hold.
  Tensor pq = ls.splits() ? be.alloc(dxq.shape()) : dxq;
  Tensor pkv = self ? pq : ls.splits() ? be.alloc(dxkv.shape()) : dxkv;
  for (size_t j = 0; j < ls.groups.size(); ++j) {
    const std::string p = ls.groups[j] + "/" + name;
    const AttentionCtx::Shard& c = ctx.shards[j];
    // Every rank adds the replicated bias's gradient (its dout is whole), once.
    Tensor none;
    Tensor& dbo = j == 0 ? ws.grad(ls.replicated() + "/" + name + "bo") : none;
    Tensor dmixed = be.alloc(c.mixed.shape());
    be.linear_backward(c.mixed, ws.value(p + "wo"), dout, dmixed, ws.grad(p + "wo"), dbo);
    Tensor dq = be.alloc(c.q.shape()), dk = be.alloc(c.k.shape()), dv = be.alloc(c.v.shape());
    be.attention_backward(c.q, c.k, c.v, c.stats, heads / ls.of, ctx.causal, dmixed, dq, dk, dv);
    be.linear_backward(ctx.xq, ws.value(p + "wq"), dq, pq, ws.grad(p + "wq"), ws.grad(p + "bq"));
    be.linear_backward(ctx.xkv, ws.value(p + "wk"), dk, pkv, ws.grad(p + "wk"), ws.grad(p + "bk"));
    be.linear_backward(ctx.xkv, ws.value(p + "wv"), dv, pkv, ws.grad(p + "wv"), ws.grad(p + "bv"));
  }
  if (!ls.splits()) return;
  ls.reduce(pq);
  copy_flat(be, pq, dxq, true);
  if (self) return;
  ls.reduce(pkv);
  copy_flat(be, pkv, dxkv, true);
}

}  // namespace spindle::engine
