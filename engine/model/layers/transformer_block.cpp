// Transformer block forward and backward (see transformer_block.h).
#include "engine/model/layers/transformer_block.h"

namespace spindle::engine {
namespace {

// The MLP on the held shards (their ffn columns), partial outputs summed, then over the TP group.
Tensor mlp_forward(Backend& be, WeightStore& ws, const LayerShards& ls, Mlp mlp, const Tensor& n2, BlockCtx& ctx) {
  ctx.mlp.assign(ls.groups.size(), {});
  Tensor m;
  for (size_t j = 0; j < ls.groups.size(); ++j) {
    const std::string g = ls.groups[j] + "/";
    BlockCtx::MlpShard& c = ctx.mlp[j];
    Tensor part = be.alloc(n2.shape());
    if (mlp == Mlp::kGelu) {
      const std::int64_t f = ws.value(g + "mlp.w1").dim(0);
      c.pre = be.alloc({n2.rows(), f});
      c.act = be.alloc({n2.rows(), f});
      const Tensor b2 = j == 0 && ls.adds_bias ? ws.value(ls.replicated() + "/mlp.b2") : Tensor();
      be.gelu_mlp_forward(n2, ws.value(g + "mlp.w1"), ws.value(g + "mlp.b1"), ws.value(g + "mlp.w2"), b2, c.pre,
                          c.act, part);
    } else {
      const std::int64_t f = ws.value(g + "mlp.wg").dim(0);
      c.pre = be.alloc({n2.rows(), f});
      c.up = be.alloc({n2.rows(), f});
      c.act = be.alloc({n2.rows(), f});
      be.swiglu_mlp_forward(n2, ws.value(g + "mlp.wg"), ws.value(g + "mlp.wu"), ws.value(g + "mlp.wd"), c.pre, c.up,
                            c.act, part);
    }
    if (j == 0) m = part;
    else copy_flat(be, part, m, true);
  }
  ls.reduce(m);
  return m;
}

// Adds the input gradient's partial sum into dn2 (fresh), reduced over the TP group.
void mlp_backward(Backend& be, WeightStore& ws, const LayerShards& ls, Mlp mlp, const BlockCtx& ctx, const Tensor& dm,
                  Tensor& dn2) {
  for (size_t j = 0; j < ls.groups.size(); ++j) {
    const std::string g = ls.groups[j] + "/";
    const BlockCtx::MlpShard& c = ctx.mlp[j];
    if (mlp == Mlp::kGelu) {
      Tensor none;
      Tensor& db2 = j == 0 ? ws.grad(ls.replicated() + "/mlp.b2") : none;  // every rank, once
      be.gelu_mlp_backward(ctx.ln2.y, ws.value(g + "mlp.w1"), ws.value(g + "mlp.w2"), c.pre, c.act, dm, dn2,
                           ws.grad(g + "mlp.w1"), ws.grad(g + "mlp.b1"), ws.grad(g + "mlp.w2"), db2);
    } else {
      be.swiglu_mlp_backward(ctx.ln2.y, ws.value(g + "mlp.wg"), ws.value(g + "mlp.wu"), ws.value(g + "mlp.wd"), c.pre,
                             c.up, c.act, dm, dn2, ws.grad(g + "mlp.wg"), ws.grad(g + "mlp.wu"),
                             ws.grad(g + "mlp.wd"));
    }
  }
  ls.reduce(dn2);
}

}  // namespace

Tensor block_forward(Backend& be, WeightStore& ws, const LayerShards& ls, const BlockSpec& spec, const Tensor& x,
                     const Tensor& memory, BlockCtx& ctx) {
  const std::string g = ls.replicated() + "/";
  Tensor n1 = norm_forward(be, ws, g + "ln1.", x, ctx.ln1);
  Tensor a = attention_layer_forward(be, ws, ls, "attn.", n1, n1, spec.heads, spec.causal, ctx.attn);
  ctx.h1 = be.alloc(x.shape());
  be.residual_forward(x, a, ctx.h1);
  ctx.h2 = ctx.h1;
  if (spec.cross) {
    Tensor nc = norm_forward(be, ws, g + "lnc.", ctx.h1, ctx.lnc);
    Tensor c = attention_layer_forward(be, ws, ls, "cross.", nc, memory, spec.heads, false, ctx.cross);
    ctx.h2 = be.alloc(x.shape());
    be.residual_forward(ctx.h1, c, ctx.h2);
  }
  Tensor n2 = norm_forward(be, ws, g + "ln2.", ctx.h2, ctx.ln2);
  Tensor m = mlp_forward(be, ws, ls, spec.mlp, n2, ctx);
  Tensor y = be.alloc(x.shape());
  be.residual_forward(ctx.h2, m, y);
  return y;
}

void block_backward(Backend& be, WeightStore& ws, const LayerShards& ls, const BlockSpec& spec, const BlockCtx& ctx,
                    const Tensor& dy, Tensor& dx, Tensor& dmemory) {
  const std::string g = ls.replicated() + "/";
  Tensor dh2 = be.alloc(dy.shape()), dm = be.alloc(dy.shape()), dn2 = be.alloc(dy.shape());
  be.residual_backward(dy, dh2, dm);
  mlp_backward(be, ws, ls, spec.mlp, ctx, dm, dn2);
  norm_backward(be, ws, g + "ln2.", ctx.ln2, dn2, dh2);
  Tensor dh1 = dh2;
  if (spec.cross) {
    dh1 = be.alloc(dy.shape());
    Tensor dc = be.alloc(dy.shape()), dnc = be.alloc(dy.shape());
    be.residual_backward(dh2, dh1, dc);
    attention_layer_backward(be, ws, ls, "cross.", ctx.cross, spec.heads, dc, dnc, dmemory);
    norm_backward(be, ws, g + "lnc.", ctx.lnc, dnc, dh1);
  }
  Tensor da = be.alloc(dy.shape()), dn1 = be.alloc(dy.shape());
  be.residual_backward(dh1, dx, da);
  attention_layer_backward(be, ws, ls, "attn.", ctx.attn, spec.heads, da, dn1, dn1);
  norm_backward(be, ws, g + "ln1.", ctx.ln1, dn1, dx);
}

}  // namespace spindle::engine
