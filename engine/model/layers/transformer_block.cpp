// Transformer block forward and backward (see transformer_block.h).
#include "engine/model/layers/transformer_block.h"

namespace spindle::engine {

Tensor block_forward(Backend& be, WeightStore& ws, const std::string& group, const BlockSpec& spec, const Tensor& x,
                     const Tensor& memory, BlockCtx& ctx) {
  const std::string g = group + "/";
  Tensor n1 = norm_forward(be, ws, g + "ln1.", x, ctx.ln1);
  Tensor a = attention_layer_forward(be, ws, g + "attn.", n1, n1, spec.heads, spec.causal, ctx.attn);
  ctx.h1 = be.alloc(x.shape());
  be.residual_forward(x, a, ctx.h1);
  ctx.h2 = ctx.h1;
  if (spec.cross) {
    Tensor nc = norm_forward(be, ws, g + "lnc.", ctx.h1, ctx.lnc);
    Tensor c = attention_layer_forward(be, ws, g + "cross.", nc, memory, spec.heads, false, ctx.cross);
    ctx.h2 = be.alloc(x.shape());
    be.residual_forward(ctx.h1, c, ctx.h2);
  }
  Tensor n2 = norm_forward(be, ws, g + "ln2.", ctx.h2, ctx.ln2);
  Tensor m = be.alloc(x.shape());
  if (spec.mlp == Mlp::kGelu) {
    const std::int64_t f = ws.value(g + "mlp.w1").dim(0);
    ctx.pre = be.alloc({x.rows(), f});
    ctx.act = be.alloc({x.rows(), f});
    be.gelu_mlp_forward(n2, ws.value(g + "mlp.w1"), ws.value(g + "mlp.b1"), ws.value(g + "mlp.w2"),
                        ws.value(g + "mlp.b2"), ctx.pre, ctx.act, m);
  } else {
    const std::int64_t f = ws.value(g + "mlp.wg").dim(0);
    ctx.pre = be.alloc({x.rows(), f});
    ctx.up = be.alloc({x.rows(), f});
    ctx.act = be.alloc({x.rows(), f});
    be.swiglu_mlp_forward(n2, ws.value(g + "mlp.wg"), ws.value(g + "mlp.wu"), ws.value(g + "mlp.wd"), ctx.pre, ctx.up,
                          ctx.act, m);
  }
  Tensor y = be.alloc(x.shape());
  be.residual_forward(ctx.h2, m, y);
  return y;
}

void block_backward(Backend& be, WeightStore& ws, const std::string& group, const BlockSpec& spec,
                    const BlockCtx& ctx, const Tensor& dy, Tensor& dx, Tensor& dmemory) {
  const std::string g = group + "/";
  Tensor dh2 = be.alloc(dy.shape()), dm = be.alloc(dy.shape()), dn2 = be.alloc(dy.shape());
  be.residual_backward(dy, dh2, dm);
  if (spec.mlp == Mlp::kGelu) {
    be.gelu_mlp_backward(ctx.ln2.y, ws.value(g + "mlp.w1"), ws.value(g + "mlp.w2"), ctx.pre, ctx.act, dm, dn2,
                         ws.grad(g + "mlp.w1"), ws.grad(g + "mlp.b1"), ws.grad(g + "mlp.w2"), ws.grad(g + "mlp.b2"));
  } else {
    be.swiglu_mlp_backward(ctx.ln2.y, ws.value(g + "mlp.wg"), ws.value(g + "mlp.wu"), ws.value(g + "mlp.wd"), ctx.pre,
                           ctx.up, ctx.act, dm, dn2, ws.grad(g + "mlp.wg"), ws.grad(g + "mlp.wu"),
                           ws.grad(g + "mlp.wd"));
  }
  norm_backward(be, ws, g + "ln2.", ctx.ln2, dn2, dh2);
  Tensor dh1 = dh2;
  if (spec.cross) {
    dh1 = be.alloc(dy.shape());
    Tensor dc = be.alloc(dy.shape()), dnc = be.alloc(dy.shape());
    be.residual_backward(dh2, dh1, dc);
    attention_layer_backward(be, ws, g + "cross.", ctx.cross, spec.heads, dc, dnc, dmemory);
    norm_backward(be, ws, g + "lnc.", ctx.lnc, dnc, dh1);
  }
  Tensor da = be.alloc(dy.shape()), dn1 = be.alloc(dy.shape());
  be.residual_backward(dh1, dx, da);
  attention_layer_backward(be, ws, g + "attn.", ctx.attn, spec.heads, da, dn1, dn1);
  norm_backward(be, ws, g + "ln1.", ctx.ln1, dn1, dx);
}

}  // namespace spindle::engine
