// Weight tensors per operator kind (see weight_shapes.h). Linear weights are [out, in].
#include "engine/model/weight_shapes.h"

namespace spindle::engine {
namespace {

void attention(std::vector<WeightShape>& w, const std::string& p, std::int64_t q_in, std::int64_t kv_in,
               std::int64_t width) {
  w.push_back({p + "wq", {width, q_in}, Init::kNormal});
  w.push_back({p + "bq", {width}, Init::kZeros});
  w.push_back({p + "wk", {width, kv_in}, Init::kNormal});
  w.push_back({p + "bk", {width}, Init::kZeros});
  w.push_back({p + "wv", {width, kv_in}, Init::kNormal});
  w.push_back({p + "bv", {width}, Init::kZeros});
  w.push_back({p + "wo", {width, width}, Init::kNormalResidual});
  w.push_back({p + "bo", {width}, Init::kZeros});
}

void norm(std::vector<WeightShape>& w, const std::string& p, std::int64_t width) {
  w.push_back({p + "g", {width}, Init::kOnes});
  w.push_back({p + "b", {width}, Init::kZeros});
}

}  // namespace

std::vector<WeightShape> weight_shapes(const Operator& op) {
  std::vector<WeightShape> w;
  const std::int64_t h = op.shape.hidden, f = op.ffn;
  switch (op.kind) {
    case OpKind::kPatchEmbed:
      w.push_back({"w", {op.out_hidden, op.in_features}, Init::kNormal});
      w.push_back({"b", {op.out_hidden}, Init::kZeros});
      w.push_back({"pos", {op.param_tokens, op.out_hidden}, Init::kNormal});
      break;
    case OpKind::kTokenEmbed:
      w.push_back({"table", {op.in_features, op.out_hidden}, Init::kNormal});
      break;
    case OpKind::kEncoderLayer:
    case OpKind::kDecoderLayer:
      norm(w, "ln1.", h);
      attention(w, "attn.", h, h, h);
      if (op.kind == OpKind::kDecoderLayer && op.cross_seq > 0) {
        norm(w, "lnc.", h);
        attention(w, "cross.", h, h, h);
      }
      norm(w, "ln2.", h);
      if (op.mlp == Mlp::kGelu) {
        w.push_back({"mlp.w1", {f, h}, Init::kNormal});
        w.push_back({"mlp.b1", {f}, Init::kZeros});
        w.push_back({"mlp.w2", {h, f}, Init::kNormalResidual});
        w.push_back({"mlp.b2", {h}, Init::kZeros});
      } else {
        w.push_back({"mlp.wg", {f, h}, Init::kNormal});
        w.push_back({"mlp.wu", {f, h}, Init::kNormal});
        w.push_back({"mlp.wd", {h, f}, Init::kNormalResidual});
      }
      break;
    case OpKind::kCrossAttention:  // resampler: learned queries attend to the normalised input
      w.push_back({"queries", {op.out_seq, op.out_hidden}, Init::kNormal});
      norm(w, "ln.", h);
      attention(w, "attn.", op.out_hidden, h, op.out_hidden);
      break;
    case OpKind::kProjectionHead:
      norm(w, "ln.", h);
      w.push_back({"proj.w", {op.out_hidden, h}, Init::kNormal});
      w.push_back({"proj.b", {op.out_hidden}, Init::kZeros});
      break;
    case OpKind::kLmHead:
      w.push_back({"table", {op.in_features, h}, Init::kNormal});
      break;
    case OpKind::kContrastiveLoss:
      break;
  }
  return w;
}

}  // namespace spindle::engine
