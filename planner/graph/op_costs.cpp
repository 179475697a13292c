// Closed-form operator costs (see op_costs.h for conventions and sources).
#include "planner/graph/op_costs.h"

#include "traces/errors.h"

namespace spindle {
namespace {

struct Dims {
  double b, s, h, f, a;
};

// Parameters of one transformer block: attention (q, k, v, o with biases), two layer norms,
// and the MLP (GELU: two linears with biases; SwiGLU: three linears without).
double block_params(double h, double f, Mlp mlp) {
  double attn = 4 * h * h + 4 * h;
  double norms = 4 * h;
  double mlp_params = mlp == Mlp::kGelu ? 2 * h * f + f + h : 3 * h * f;
  return attn + norms + mlp_params;
}

// Its tensors: 2 layer norms (gain, bias each), attention's q, k, v, o with biases, the MLP's
// linears (GELU: 2 with biases; SwiGLU: 3 without); cross-attention adds a norm and 8 more.
int block_tensors(Mlp mlp, bool cross) { return 4 + 8 + (mlp == Mlp::kGelu ? 4 : 3) + (cross ? 10 : 0); }

// Forward FLOPs of one transformer block (self-attention + MLP).
double block_fwd_flops(const Dims& d, Mlp mlp) {
  double proj = 2 * d.b * d.s * 4 * d.h * d.h;  // q, k, v, o
  double attn = 4 * d.b * d.s * d.s * d.h;       // scores + weighted sum
  double mlp_flops = (mlp == Mlp::kGelu ? 4 : 6) * d.b * d.s * d.h * d.f;
  return proj + attn + mlp_flops;
}

// Activation bytes of one block (Korthikanti et al. 2022, Table 2, generalised in ffn):
// attention 11 s b h, layer norms 4 s b h, MLP 3 s b h + 4 s b f (GELU) or 6 s b f. Attention
// is fused (FlashAttention-2, as op_time.cpp times it), so Korthikanti's 5 a s^2 b for the
// stored scores, softmax and dropout mask is replaced by the fp32 softmax statistics the
// fused kernel keeps instead: 4 a s b.
double flash_stats_bytes(double heads, double queries, double batch) { return 4 * heads * queries * batch; }

double block_activation_bytes(const Dims& d, Mlp mlp) {
  double attn = 11 * d.s * d.b * d.h + flash_stats_bytes(d.a, d.s, d.b);
  double norms = 4 * d.s * d.b * d.h;
  double mlp_bytes = 3 * d.s * d.b * d.h + (mlp == Mlp::kGelu ? 4 : 6) * d.s * d.b * d.f;
  return attn + norms + mlp_bytes;
}

}  // namespace

OpCost op_cost(const Operator& op) {
  const Dims d{static_cast<double>(op.shape.batch), static_cast<double>(op.shape.seq),
               static_cast<double>(op.shape.hidden), static_cast<double>(op.ffn),
               static_cast<double>(op.heads)};
  const double out_h = static_cast<double>(op.out_hidden);
  const double out_s = static_cast<double>(op.out_seq);
  const double in_f = static_cast<double>(op.in_features);
  double params = 0, fwd = 0, bwd = 0, act = 0;
  int tensors = 0;
  switch (op.kind) {
    case OpKind::kPatchEmbed:
      // Linear patch projection with bias, plus learned position embeddings.
      params = in_f * d.h + d.h + static_cast<double>(op.param_tokens) * d.h;
      tensors = 3;  // projection, bias, positions
      fwd = 2 * d.b * d.s * in_f * d.h;
      bwd = fwd;  // weight gradient only: raw inputs need no gradient
      act = 2 * d.b * d.s * in_f;
      break;
    case OpKind::kTokenEmbed:
      params = in_f * d.h;  // vocabulary table (rotary or absolute positions are not counted)
      tensors = 1;
      fwd = d.b * d.s * d.h;
      bwd = d.b * d.s * d.h;  // scatter-add into the table
      act = 4 * d.b * d.s;    // token ids
      break;
    case OpKind::kEncoderLayer:
      params = block_params(d.h, d.f, op.mlp);
      tensors = block_tensors(op.mlp, false);
      fwd = block_fwd_flops(d, op.mlp);
      bwd = 2 * fwd;
      act = block_activation_bytes(d, op.mlp);
      break;
    case OpKind::kDecoderLayer: {
      params = block_params(d.h, d.f, op.mlp);
      tensors = block_tensors(op.mlp, op.cross_seq > 0);
      fwd = block_fwd_flops(d, op.mlp);
      act = block_activation_bytes(d, op.mlp);
      if (op.cross_seq > 0) {
        const double m = static_cast<double>(op.cross_seq);
        params += 4 * d.h * d.h + 4 * d.h + 2 * d.h;
        fwd += 2 * d.b * d.s * 2 * d.h * d.h + 2 * d.b * m * 2 * d.h * d.h + 4 * d.b * d.s * m * d.h;
        act += 11 * d.s * d.b * d.h + 4 * d.b * m * d.h + flash_stats_bytes(d.a, d.s, d.b);
      }
      bwd = 2 * fwd;
      break;
    }
    case OpKind::kCrossAttention:
      // Learned queries [out_s, out_h] attend to the input [s, h]: q and o are out_h x out_h,
      // k and v map h -> out_h; layer norm on the input.
      params = out_s * out_h + 2 * out_h * out_h + 2 * d.h * out_h + 4 * out_h + 2 * d.h;
      tensors = 11;  // queries, the norm's 2, attention's 8
      fwd = 2 * d.b * out_s * 2 * out_h * out_h + 2 * d.b * d.s * 2 * d.h * out_h +
            4 * d.b * out_s * d.s * out_h;
      bwd = 2 * fwd;
      act = 2 * d.b * d.s * d.h + 4 * d.b * d.s * out_h + 10 * d.b * out_s * out_h +
            flash_stats_bytes(d.a, out_s, d.b);
      break;
    case OpKind::kProjectionHead:
      // Layer norm, pooling to out_s tokens, linear h -> out_h with bias.
      params = 2 * d.h + d.h * out_h + out_h;
      tensors = 4;  // the norm's 2, the linear and its bias
      fwd = 2 * d.b * out_s * d.h * out_h + 5 * d.b * d.s * d.h;
      bwd = 2 * fwd;
      act = 2 * d.b * d.s * d.h + 2 * d.b * out_s * d.h;
      break;
    case OpKind::kContrastiveLoss:
      // shape = [B, 2, D]: one B x B similarity GEMM, softmax both ways; backward: two GEMMs.
      params = 0;
      fwd = 2 * d.b * d.b * d.h + 10 * d.b * d.b;
      bwd = 4 * d.b * d.b * d.h + 10 * d.b * d.b;
      act = 2 * 2 * d.b * d.h + 2 * 4 * d.b * d.b;
      break;
    case OpKind::kLmHead:
      // Vocabulary projection + softmax cross-entropy (fp32 logits kept). Its parameters are
      // the vocabulary table, the same tensor as a tied token embedding's.
      params = in_f * d.h;
      tensors = 1;
      fwd = 2 * d.b * d.s * d.h * in_f + 5 * d.b * d.s * in_f;
      bwd = 4 * d.b * d.s * d.h * in_f + d.b * d.s * in_f;
      act = 2 * d.b * d.s * d.h + 4 * d.b * d.s * in_f;
      break;
  }
  // Sizes within the scenario's ranges can still multiply past int64: refuse, never wrap.
  constexpr double kMax = 4e18;
  if (params > kMax || act > kMax || fwd > 1e30 || bwd > 1e30)
    throw InputError("operator " + op.name + " " + op.shape.str() +
                     ": its parameters or activations exceed 4e18 bytes; allowed: smaller batch, tokens or widths");
  OpCost c;
  c.fwd_flops = fwd;
  c.bwd_flops = bwd;
  c.params = static_cast<std::int64_t>(params);
  c.weight_tensors = tensors;
  c.activation_bytes = static_cast<std::int64_t>(act);
  if (fwd < 0 || bwd < 0 || params < 0 || act < 0) throw InternalError("negative cost for " + op.name);
  return c;
}

}  // namespace spindle
