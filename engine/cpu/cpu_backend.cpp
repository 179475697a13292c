// The CPU backend (see cpu_backend.h): checks shapes, then calls the engine/cpu/ kernels. The
// kernels compute in fp32: a bf16 tensor reaches them through an fp32 view (widened before,
// narrowed back after when written). Mixed precision as the GPU runs it: a GEMM kernel whose
// input activations are stored bf16 takes its fp32 weights rounded to bf16 (the CUDA backend's
// bf16 GEMMs read bf16 copies of the fp32 masters), accumulating in fp32.
#include "engine/cpu/cpu_backend.h"

#include <cstdlib>
#include <cstring>
#include <vector>

#include "engine/cpu/attention.h"
#include "engine/cpu/bf16.h"
#include "engine/cpu/contrastive_loss.h"
#include "engine/cpu/gelu_mlp.h"
#include "engine/cpu/layer_norm.h"
#include "engine/cpu/linear.h"
#include "engine/cpu/lm_head_loss.h"
#include "engine/cpu/mean_pool.h"
#include "engine/cpu/patch_embed.h"
#include "engine/cpu/residual.h"
#include "engine/cpu/swiglu_mlp.h"
#include "engine/cpu/token_embed.h"
#include "traces/errors.h"

namespace spindle::engine {
namespace {

void expect(bool ok, const char* kernel, const std::string& what) {
  if (!ok) throw InternalError(std::string(kernel) + ": " + what);
}

// An fp32 view of a tensor for one kernel call: its own memory when it is fp32 (or empty:
// nullptr), else a widened copy (kIn, kInOut: read; kOut: zeroed) that is narrowed back into
// the tensor when the view goes (kOut, kInOut).
class F32 {
 public:
  enum Mode { kIn, kOut, kInOut };
  F32(const Tensor& t, Mode mode) : t_(t), mode_(mode) {
    if (t.empty() || t.dtype() == DType::kF32) return;
    expect(t.dtype() == DType::kBF16, "kernel", std::string("a ") + dtype_name(t.dtype()) + " tensor where floats go");
    copy_.resize(static_cast<size_t>(t.numel()));
    if (mode != kOut) cpu::widen_into(t, copy_.data());
  }
  F32(const F32&) = delete;
  F32& operator=(const F32&) = delete;
  ~F32() {
    if (!copy_.empty() && mode_ != kIn) cpu::narrow_into(copy_.data(), t_);
  }
  float* p() const { return t_.empty() ? nullptr : copy_.empty() ? t_.f32() : const_cast<float*>(copy_.data()); }

 private:
  Tensor t_;
  Mode mode_;
  std::vector<float> copy_;
};

// Views by role: read, written whole, added into.
struct In : F32 {
  explicit In(const Tensor& t) : F32(t, kIn) {}
};
struct Out : F32 {
  explicit Out(const Tensor& t) : F32(t, kOut) {}
};
struct Acc : F32 {
  explicit Acc(const Tensor& t) : F32(t, kInOut) {}
};

// The weights of a GEMM kernel on activations `x`: rounded to bf16 (kept as fp32 values) where
// x is stored bf16, else as they are (see the file's comment).
class Weights {
 public:
  Weights(const Tensor& w, const Tensor& x) : view_(w, F32::kIn) {
    if (w.empty() || w.dtype() != DType::kF32 || x.dtype() != DType::kBF16) return;
    rounded_.resize(static_cast<size_t>(w.numel()));
    const float* v = w.f32();
    for (size_t i = 0; i < rounded_.size(); ++i) rounded_[i] = cpu::from_bf16(cpu::to_bf16(v[i]));
  }
  float* p() const { return rounded_.empty() ? view_.p() : const_cast<float*>(rounded_.data()); }

 private:
  F32 view_;
  std::vector<float> rounded_;
};

}  // namespace

Tensor CpuBackend::alloc(const Dims& shape, DType dtype) {
  std::int64_t n = 1;
  for (std::int64_t d : shape) {
    expect(d >= 0, "alloc", "negative dimension in " + dims_str(shape));
    n *= d;
  }
  const size_t bytes = static_cast<size_t>(n > 0 ? n : 1) * static_cast<size_t>(dtype_bytes(dtype));
  return Tensor(shape, dtype, cache_->get(bytes, MemPartScope::current()));
}

void CpuBackend::zero(Tensor& t) { std::memset(t.data(), 0, static_cast<size_t>(t.bytes())); }

void CpuBackend::upload(Tensor& dst, std::span<const float> src) {
  expect(dst.dtype() != DType::kI32 && static_cast<std::int64_t>(src.size()) == dst.numel(), "upload",
         "size or type mismatch for " + dims_str(dst.shape()));
  cpu::narrow_into(src.data(), dst);
}

void CpuBackend::upload(Tensor& dst, std::span<const std::int32_t> src) {
  expect(dst.dtype() == DType::kI32 && static_cast<std::int64_t>(src.size()) == dst.numel(), "upload",
         "size or type mismatch for " + dims_str(dst.shape()));
  std::memcpy(dst.i32(), src.data(), src.size() * 4);
}

void CpuBackend::download(const Tensor& src, std::span<float> dst) {
  expect(static_cast<std::int64_t>(dst.size()) == src.numel(), "download", "size mismatch");
  cpu::widen_into(src, dst.data());
}

void CpuBackend::copy_tokens(const Tensor& src, std::int64_t src_first, Tensor& dst, std::int64_t dst_first,
                             std::int64_t count, bool accumulate) {
  expect(src.rank() == 3 && dst.rank() == 3 && src.dim(0) == dst.dim(0) && src.dim(2) == dst.dim(2), "copy_tokens",
         dims_str(src.shape()) + " -> " + dims_str(dst.shape()));
  expect(src_first + count <= src.dim(1) && dst_first + count <= dst.dim(1), "copy_tokens", "token range");
  const std::int64_t d = src.dim(2);
  const bool same = src.dtype() == dst.dtype() && !accumulate;
  for (std::int64_t b = 0; b < src.dim(0); ++b) {
    const std::int64_t s0 = (b * src.dim(1) + src_first) * d, t0 = (b * dst.dim(1) + dst_first) * d;
    if (same) {  // bytes as they are (fp32 or bf16)
      const auto e = dtype_bytes(src.dtype());
      std::memcpy(static_cast<char*>(dst.data()) + t0 * e, static_cast<const char*>(src.data()) + s0 * e,
                  static_cast<size_t>(count * d * e));
      continue;
    }
    Tensor from = src.flat_view(s0, count * d), to = dst.flat_view(t0, count * d);
    In s(from);
    Acc t(to);
    for (std::int64_t i = 0; i < count * d; ++i) t.p()[i] = accumulate ? t.p()[i] + s.p()[i] : s.p()[i];
  }
}

void CpuBackend::repeat_batch(const Tensor& src, Tensor& dst) {
  expect(dst.numel() % src.numel() == 0, "repeat_batch", "shape");
  In s(src);
  Out d(dst);
  for (std::int64_t b = 0; b < dst.numel() / src.numel(); ++b)
    std::memcpy(d.p() + b * src.numel(), s.p(), static_cast<size_t>(src.numel()) * 4);
}

void CpuBackend::repeat_batch_backward(const Tensor& ddst, Tensor& dsrc) {
  expect(ddst.numel() % dsrc.numel() == 0, "repeat_batch_backward", "shape");
  In dd(ddst);
  Acc ds(dsrc);
  const std::int64_t n = dsrc.numel();
  for (std::int64_t b = 0; b < ddst.numel() / n; ++b)
    for (std::int64_t i = 0; i < n; ++i) ds.p()[i] += dd.p()[b * n + i];
}

// Four partial sums in double: the adds pipeline instead of waiting on each other.
double CpuBackend::sum_squares(std::span<const Tensor> ts) {
  double s[4] = {0, 0, 0, 0};
  for (const Tensor& t : ts) {
    In v(t);
    const float* p = v.p();
    const std::int64_t n = t.numel(), whole = n / 4 * 4;
    for (std::int64_t i = 0; i < whole; i += 4)
      for (int k = 0; k < 4; ++k) s[k] += static_cast<double>(p[i + k]) * p[i + k];
    for (std::int64_t i = whole; i < n; ++i) s[0] += static_cast<double>(p[i]) * p[i];
  }
  return (s[0] + s[1]) + (s[2] + s[3]);
}

void CpuBackend::scale(Tensor& t, float factor) {
  Acc v(t);
  float* p = v.p();
  for (std::int64_t i = 0, n = t.numel(); i < n; ++i) p[i] *= factor;
}

void CpuBackend::linear_forward(const Tensor& x, const Tensor& w, const Tensor& b, Tensor& y) {
  expect(w.rank() == 2 && x.dim(-1) == w.dim(1) && y.dim(-1) == w.dim(0) && x.rows() == y.rows(), "linear",
         dims_str(x.shape()) + " x " + dims_str(w.shape()) + " -> " + dims_str(y.shape()));
  cpu::linear_forward(In(x).p(), Weights(w, x).p(), In(b).p(), Out(y).p(), x.rows(), w.dim(1), w.dim(0));
}
void CpuBackend::linear_backward(const Tensor& x, const Tensor& w, const Tensor& dy, Tensor& dx, Tensor& dw,
                                 Tensor& db) {
  cpu::linear_backward(In(x).p(), Weights(w, x).p(), In(dy).p(), Acc(dx).p(), Acc(dw).p(), Acc(db).p(), x.rows(),
                       w.dim(1), w.dim(0));
}

void CpuBackend::layer_norm_forward(const Tensor& x, const Tensor& g, const Tensor& b, Tensor& y, Tensor& mean,
                                    Tensor& rstd) {
  expect(g.numel() == x.dim(-1) && mean.numel() == x.rows() && y.numel() == x.numel(), "layer_norm",
         dims_str(x.shape()));
  cpu::layer_norm_forward(In(x).p(), In(g).p(), In(b).p(), Out(y).p(), Out(mean).p(), Out(rstd).p(), x.rows(),
                          x.dim(-1));
}

void CpuBackend::layer_norm_backward(const Tensor& x, const Tensor& g, const Tensor& mean, const Tensor& rstd,
                                     const Tensor& dy, Tensor& dx, Tensor& dg, Tensor& db) {
  cpu::layer_norm_backward(In(x).p(), In(g).p(), In(mean).p(), In(rstd).p(), In(dy).p(), Acc(dx).p(), Acc(dg).p(),
                           Acc(db).p(), x.rows(), x.dim(-1));
}

namespace {
cpu::AttentionDims attention_dims(const Tensor& q, const Tensor& k, const Tensor& stats, int heads, bool causal) {
  expect(q.rank() == 3 && k.rank() == 3 && q.dim(0) == k.dim(0) && q.dim(2) == k.dim(2), "attention",
         dims_str(q.shape()) + " vs " + dims_str(k.shape()));
  expect(stats.numel() == q.dim(0) * heads * q.dim(1) && stats.dtype() == DType::kF32, "attention",
         "stats " + dims_str(stats.shape()) + " (fp32 [B, heads, Sq])");
  return cpu::AttentionDims{q.dim(0), q.dim(1), k.dim(1), q.dim(2), heads, causal};
}
}  // namespace

void CpuBackend::attention_forward(const Tensor& q, const Tensor& k, const Tensor& v, int heads, bool causal,
                                   Tensor& out, Tensor& stats) {
  const cpu::AttentionDims d = attention_dims(q, k, stats, heads, causal);
  cpu::attention_forward(In(q).p(), In(k).p(), In(v).p(), Out(out).p(), stats.f32(), d);
}

void CpuBackend::attention_backward(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& stats, int heads,
                                    bool causal, const Tensor& dout, Tensor& dq, Tensor& dk, Tensor& dv) {
  // dq and dk may be one tensor (self-attention's input gradient): one view for both.
  Acc q_grad(dq);
  const bool shared = dq.data() == dk.data() && dq.numel() == dk.numel();
  Acc k_grad(shared ? Tensor() : dk);
  const cpu::AttentionDims d = attention_dims(q, k, stats, heads, causal);
  cpu::attention_backward(In(q).p(), In(k).p(), In(v).p(), stats.f32(), In(dout).p(), q_grad.p(),
                          shared ? q_grad.p() : k_grad.p(), Acc(dv).p(), d);
}

void CpuBackend::gelu_mlp_forward(const Tensor& x, const Tensor& w1, const Tensor& b1, const Tensor& w2,
                                  const Tensor& b2, Tensor& pre, Tensor& act, Tensor& y) {
  expect(w1.dim(1) == x.dim(-1) && w2.dim(0) == x.dim(-1) && pre.numel() == x.rows() * w1.dim(0), "gelu_mlp",
         dims_str(x.shape()));
  Out p(pre), a(act), out(y);
  cpu::gelu_mlp_forward<float>(In(x).p(), {Weights(w1, x).p(), In(b1).p(), Weights(w2, x).p(), In(b2).p()}, p.p(),
                               a.p(), out.p(), x.rows(), x.dim(-1), w1.dim(0));
}

void CpuBackend::gelu_mlp_backward(const Tensor& x, const Tensor& w1, const Tensor& w2, const Tensor& pre,
                                   const Tensor& act, const Tensor& dy, Tensor& dx, Tensor& dw1, Tensor& db1,
                                   Tensor& dw2, Tensor& db2) {
  Acc gx(dx), gw1(dw1), gb1(db1), gw2(dw2), gb2(db2);
  cpu::gelu_mlp_backward<float>(In(x).p(), {Weights(w1, x).p(), nullptr, Weights(w2, x).p(), nullptr}, In(pre).p(),
                                In(act).p(), In(dy).p(), gx.p(), {gw1.p(), gb1.p(), gw2.p(), gb2.p()}, x.rows(),
                                x.dim(-1), w1.dim(0));
}

void CpuBackend::swiglu_mlp_forward(const Tensor& x, const Tensor& wg, const Tensor& wu, const Tensor& wd,
                                    Tensor& gate, Tensor& up, Tensor& act, Tensor& y) {
  expect(wg.dim(1) == x.dim(-1) && wd.dim(0) == x.dim(-1) && gate.numel() == x.rows() * wg.dim(0), "swiglu_mlp",
         dims_str(x.shape()));
  Out g(gate), u(up), a(act), out(y);
  cpu::swiglu_mlp_forward<float>(In(x).p(), {Weights(wg, x).p(), Weights(wu, x).p(), Weights(wd, x).p()}, g.p(),
                                 u.p(), a.p(), out.p(), x.rows(), x.dim(-1), wg.dim(0));
}

void CpuBackend::swiglu_mlp_backward(const Tensor& x, const Tensor& wg, const Tensor& wu, const Tensor& wd,
                                     const Tensor& gate, const Tensor& up, const Tensor& act, const Tensor& dy,
                                     Tensor& dx, Tensor& dwg, Tensor& dwu, Tensor& dwd) {
  Acc gx(dx), gg(dwg), gu(dwu), gd(dwd);
  cpu::swiglu_mlp_backward<float>(In(x).p(), {Weights(wg, x).p(), Weights(wu, x).p(), Weights(wd, x).p()},
                                  In(gate).p(), In(up).p(), In(act).p(), In(dy).p(), gx.p(), {gg.p(), gu.p(), gd.p()},
                                  x.rows(), x.dim(-1), wg.dim(0));
}

void CpuBackend::residual_forward(const Tensor& a, const Tensor& b, Tensor& y) {
  expect(a.numel() == b.numel() && a.numel() == y.numel(), "residual", dims_str(a.shape()));
  cpu::residual_forward(In(a).p(), In(b).p(), Out(y).p(), a.numel());
}

void CpuBackend::residual_backward(const Tensor& dy, Tensor& da, Tensor& db) {
  cpu::residual_backward(In(dy).p(), Acc(da).p(), Acc(db).p(), dy.numel());
}

void CpuBackend::mean_pool_forward(const Tensor& x, Tensor& y) {
  expect(x.rank() == 3 && y.rank() == 3 && x.dim(0) == y.dim(0) && x.dim(2) == y.dim(2), "mean_pool",
         dims_str(x.shape()) + " -> " + dims_str(y.shape()));
  cpu::mean_pool_forward(In(x).p(), Out(y).p(), x.dim(0), x.dim(1), y.dim(1), x.dim(2));
}

void CpuBackend::mean_pool_backward(const Tensor& dy, Tensor& dx) {
  cpu::mean_pool_backward(In(dy).p(), Acc(dx).p(), dx.dim(0), dx.dim(1), dy.dim(1), dx.dim(2));
}

void CpuBackend::patch_embed_forward(const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& pos,
                                     Tensor& y) {
  expect(x.rank() == 3 && w.dim(1) == x.dim(2) && pos.dim(0) >= x.dim(1) && y.dim(2) == w.dim(0), "patch_embed",
         dims_str(x.shape()) + " with pos " + dims_str(pos.shape()));
  cpu::patch_embed_forward(In(x).p(), Weights(w, x).p(), In(b).p(), In(pos).p(), Out(y).p(), x.dim(0), x.dim(1),
                           x.dim(2), w.dim(0));
}

void CpuBackend::patch_embed_backward(const Tensor& x, const Tensor& dy, Tensor& dw, Tensor& db, Tensor& dpos) {
  cpu::patch_embed_backward(In(x).p(), In(dy).p(), Acc(dw).p(), Acc(db).p(), Acc(dpos).p(), x.dim(0), x.dim(1),
                            x.dim(2), dy.dim(2));
}

void CpuBackend::token_embed_forward(const Tensor& ids, const Tensor& table, Tensor& y) {
  expect(ids.dtype() == DType::kI32 && ids.rank() == 2 && y.dim(2) == table.dim(1), "token_embed",
         dims_str(ids.shape()));
  cpu::token_embed_forward(ids.i32(), In(table).p(), Out(y).p(), ids.dim(0), ids.dim(1), table.dim(0), table.dim(1));
}

void CpuBackend::token_embed_backward(const Tensor& ids, const Tensor& dy, Tensor& dtable) {
  cpu::token_embed_backward(ids.i32(), In(dy).p(), Acc(dtable).p(), ids.dim(0), ids.dim(1), dtable.dim(1));
}

void CpuBackend::contrastive_loss_forward(const Tensor& a, const Tensor& b, float inv_temperature, std::int64_t first,
                                          std::int64_t last, Tensor& loss) {
  expect(a.numel() == b.numel() && loss.numel() == 1 && 0 <= first && first <= last && last <= a.rows(),
         "contrastive_loss", dims_str(a.shape()));
  Out l(loss);
  l.p()[0] = cpu::contrastive_loss_share(In(a).p(), In(b).p(), a.rows(), a.dim(-1), inv_temperature, first, last);
}

void CpuBackend::contrastive_loss_backward(const Tensor& a, const Tensor& b, float inv_temperature, std::int64_t first,
                                           std::int64_t last, float dloss, Tensor& da, Tensor& db) {
  expect(a.numel() == b.numel() && da.numel() == a.numel() && db.numel() == b.numel() && 0 <= first &&
             first <= last && last <= a.rows(),
         "contrastive_loss_backward", dims_str(a.shape()));
  cpu::contrastive_loss_share_backward(In(a).p(), In(b).p(), dloss, Acc(da).p(), Acc(db).p(), a.rows(), a.dim(-1),
                                       inv_temperature, first, last);
}

void CpuBackend::lm_head_loss_forward(const Tensor& x, const Tensor& table, const Tensor& labels, Tensor& stats,
                                      Tensor& loss) {
  expect(x.dim(-1) == table.dim(1) && labels.numel() == x.rows() && stats.numel() == x.rows() &&
             stats.dtype() == DType::kF32,
         "lm_head_loss", dims_str(x.shape()) + " with table " + dims_str(table.shape()) + ", stats " +
                             dims_str(stats.shape()) + " (fp32 [n])");
  Out l(loss);
  l.p()[0] = cpu::lm_head_loss_forward(In(x).p(), In(table).p(), labels.i32(), stats.f32(), x.rows(), x.dim(-1),
                                       table.dim(0));
}

void CpuBackend::lm_head_loss_backward(const Tensor& x, const Tensor& table, const Tensor& labels,
                                       const Tensor& stats, float dloss, Tensor& dx, Tensor& dtable) {
  expect(stats.numel() == x.rows() && stats.dtype() == DType::kF32, "lm_head_loss",
         "stats " + dims_str(stats.shape()) + " (fp32 [n])");
  cpu::lm_head_loss_backward(In(x).p(), In(table).p(), labels.i32(), stats.f32(), dloss, Acc(dx).p(),
                             Acc(dtable).p(), x.rows(), x.dim(-1), table.dim(0));
}

void CpuBackend::adamw_step(std::span<const AdamWSlice> slices, const AdamWParams& p, std::int64_t step) {
  AdamWParams q = p;
  for (const AdamWSlice& s : slices) {
    const std::int64_t n = s.w.numel();
    expect(n == s.grad.numel() && n == s.m.numel() && n == s.v.numel(), "adamw", dims_str(s.w.shape()));
    q.weight_decay = s.weight_decay;
    cpu::adamw_step(Acc(s.w).p(), In(s.grad).p(), Acc(s.m).p(), Acc(s.v).p(), n, q, step);
  }
}

}  // namespace spindle::engine
