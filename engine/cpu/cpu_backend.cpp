// The CPU backend (see cpu_backend.h): checks shapes, then calls the engine/cpu/ kernels.
#include "engine/cpu/cpu_backend.h"

#include <cstdlib>
#include <cstring>

#include "engine/cpu/attention.h"
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

float* ptr(const Tensor& t) { return t.empty() ? nullptr : t.f32(); }

}  // namespace

Tensor CpuBackend::alloc(const Dims& shape, DType dtype) {
  std::int64_t n = 1;
  for (std::int64_t d : shape) {
    expect(d >= 0, "alloc", "negative dimension in " + dims_str(shape));
    n *= d;
  }
  const size_t bytes = static_cast<size_t>(n > 0 ? n : 1) * 4;  // f32 and i32 are both 4 bytes
  return Tensor(shape, dtype, cache_->get(bytes, MemPartScope::current()));
}

void CpuBackend::zero(Tensor& t) { std::memset(t.f32(), 0, static_cast<size_t>(t.numel()) * 4); }

void CpuBackend::upload(Tensor& dst, std::span<const float> src) {
  expect(dst.dtype() == DType::kF32 && static_cast<std::int64_t>(src.size()) == dst.numel(), "upload",
         "size or type mismatch for " + dims_str(dst.shape()));
  std::memcpy(dst.f32(), src.data(), src.size() * 4);
}

void CpuBackend::upload(Tensor& dst, std::span<const std::int32_t> src) {
  expect(dst.dtype() == DType::kI32 && static_cast<std::int64_t>(src.size()) == dst.numel(), "upload",
         "size or type mismatch for " + dims_str(dst.shape()));
  std::memcpy(dst.i32(), src.data(), src.size() * 4);
}

void CpuBackend::download(const Tensor& src, std::span<float> dst) {
  expect(static_cast<std::int64_t>(dst.size()) == src.numel(), "download", "size mismatch");
  std::memcpy(dst.data(), src.f32(), dst.size() * 4);
}

void CpuBackend::copy_tokens(const Tensor& src, std::int64_t src_first, Tensor& dst, std::int64_t dst_first,
                             std::int64_t count, bool accumulate) {
  expect(src.rank() == 3 && dst.rank() == 3 && src.dim(0) == dst.dim(0) && src.dim(2) == dst.dim(2), "copy_tokens",
         dims_str(src.shape()) + " -> " + dims_str(dst.shape()));
  expect(src_first + count <= src.dim(1) && dst_first + count <= dst.dim(1), "copy_tokens", "token range");
  const std::int64_t d = src.dim(2);
  for (std::int64_t b = 0; b < src.dim(0); ++b) {
    const float* s = src.f32() + (b * src.dim(1) + src_first) * d;
    float* t = dst.f32() + (b * dst.dim(1) + dst_first) * d;
    if (accumulate)
      for (std::int64_t i = 0; i < count * d; ++i) t[i] += s[i];
    else
      std::memcpy(t, s, static_cast<size_t>(count * d) * 4);
  }
}

void CpuBackend::repeat_batch(const Tensor& src, Tensor& dst) {
  expect(dst.numel() % src.numel() == 0, "repeat_batch", "shape");
  for (std::int64_t b = 0; b < dst.numel() / src.numel(); ++b)
    std::memcpy(dst.f32() + b * src.numel(), src.f32(), static_cast<size_t>(src.numel()) * 4);
}

void CpuBackend::repeat_batch_backward(const Tensor& ddst, Tensor& dsrc) {
  expect(ddst.numel() % dsrc.numel() == 0, "repeat_batch_backward", "shape");
  const std::int64_t n = dsrc.numel();
  for (std::int64_t b = 0; b < ddst.numel() / n; ++b)
    for (std::int64_t i = 0; i < n; ++i) dsrc.f32()[i] += ddst.f32()[b * n + i];
}

double CpuBackend::sum_squares(const Tensor& t) {
  double s = 0;
  for (std::int64_t i = 0; i < t.numel(); ++i) s += static_cast<double>(t.f32()[i]) * t.f32()[i];
  return s;
}

void CpuBackend::scale(Tensor& t, float factor) {
  for (std::int64_t i = 0; i < t.numel(); ++i) t.f32()[i] *= factor;
}

void CpuBackend::linear_forward(const Tensor& x, const Tensor& w, const Tensor& b, Tensor& y) {
  expect(w.rank() == 2 && x.dim(-1) == w.dim(1) && y.dim(-1) == w.dim(0) && x.rows() == y.rows(), "linear",
         dims_str(x.shape()) + " x " + dims_str(w.shape()) + " -> " + dims_str(y.shape()));
  cpu::linear_forward(x.f32(), w.f32(), ptr(b), y.f32(), x.rows(), w.dim(1), w.dim(0));
}

void CpuBackend::linear_backward(const Tensor& x, const Tensor& w, const Tensor& dy, Tensor& dx, Tensor& dw,
                                 Tensor& db) {
  cpu::linear_backward(x.f32(), w.f32(), dy.f32(), ptr(dx), ptr(dw), ptr(db), x.rows(), w.dim(1), w.dim(0));
}

void CpuBackend::layer_norm_forward(const Tensor& x, const Tensor& g, const Tensor& b, Tensor& y, Tensor& mean,
                                    Tensor& rstd) {
  expect(g.numel() == x.dim(-1) && mean.numel() == x.rows() && y.numel() == x.numel(), "layer_norm",
         dims_str(x.shape()));
  cpu::layer_norm_forward(x.f32(), g.f32(), b.f32(), y.f32(), mean.f32(), rstd.f32(), x.rows(), x.dim(-1));
}

void CpuBackend::layer_norm_backward(const Tensor& x, const Tensor& g, const Tensor& mean, const Tensor& rstd,
                                     const Tensor& dy, Tensor& dx, Tensor& dg, Tensor& db) {
  cpu::layer_norm_backward(x.f32(), g.f32(), mean.f32(), rstd.f32(), dy.f32(), ptr(dx), ptr(dg), ptr(db), x.rows(),
                           x.dim(-1));
}

namespace {
cpu::AttentionDims attention_dims(const Tensor& q, const Tensor& k, const Tensor& probs, int heads, bool causal) {
  expect(q.rank() == 3 && k.rank() == 3 && q.dim(0) == k.dim(0) && q.dim(2) == k.dim(2), "attention",
         dims_str(q.shape()) + " vs " + dims_str(k.shape()));
  expect(probs.numel() == q.dim(0) * heads * q.dim(1) * k.dim(1), "attention", "probs " + dims_str(probs.shape()));
  return cpu::AttentionDims{q.dim(0), q.dim(1), k.dim(1), q.dim(2), heads, causal};
}
}  // namespace

void CpuBackend::attention_forward(const Tensor& q, const Tensor& k, const Tensor& v, int heads, bool causal,
                                   Tensor& out, Tensor& probs) {
  cpu::attention_forward(q.f32(), k.f32(), v.f32(), out.f32(), probs.f32(), attention_dims(q, k, probs, heads, causal));
}

void CpuBackend::attention_backward(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& probs, int heads,
                                    const Tensor& dout, Tensor& dq, Tensor& dk, Tensor& dv) {
  // Masked probabilities are stored as 0, so backward needs no mask: run it as non-causal.
  cpu::attention_backward(q.f32(), k.f32(), v.f32(), probs.f32(), dout.f32(), dq.f32(), dk.f32(), dv.f32(),
                          attention_dims(q, k, probs, heads, false));
}

void CpuBackend::gelu_mlp_forward(const Tensor& x, const Tensor& w1, const Tensor& b1, const Tensor& w2,
                                  const Tensor& b2, Tensor& pre, Tensor& act, Tensor& y) {
  expect(w1.dim(1) == x.dim(-1) && w2.dim(0) == x.dim(-1) && pre.numel() == x.rows() * w1.dim(0), "gelu_mlp",
         dims_str(x.shape()));
  cpu::gelu_mlp_forward<float>(x.f32(), {w1.f32(), b1.f32(), w2.f32(), b2.f32()}, pre.f32(), act.f32(), y.f32(),
                               x.rows(), x.dim(-1), w1.dim(0));
}

void CpuBackend::gelu_mlp_backward(const Tensor& x, const Tensor& w1, const Tensor& w2, const Tensor& pre,
                                   const Tensor& act, const Tensor& dy, Tensor& dx, Tensor& dw1, Tensor& db1,
                                   Tensor& dw2, Tensor& db2) {
  cpu::gelu_mlp_backward<float>(x.f32(), {w1.f32(), nullptr, w2.f32(), nullptr}, pre.f32(), act.f32(), dy.f32(),
                                ptr(dx), {ptr(dw1), ptr(db1), ptr(dw2), ptr(db2)}, x.rows(), x.dim(-1), w1.dim(0));
}

void CpuBackend::swiglu_mlp_forward(const Tensor& x, const Tensor& wg, const Tensor& wu, const Tensor& wd,
                                    Tensor& gate, Tensor& up, Tensor& act, Tensor& y) {
  expect(wg.dim(1) == x.dim(-1) && wd.dim(0) == x.dim(-1) && gate.numel() == x.rows() * wg.dim(0), "swiglu_mlp",
         dims_str(x.shape()));
  cpu::swiglu_mlp_forward<float>(x.f32(), {wg.f32(), wu.f32(), wd.f32()}, gate.f32(), up.f32(), act.f32(), y.f32(),
                                 x.rows(), x.dim(-1), wg.dim(0));
}

void CpuBackend::swiglu_mlp_backward(const Tensor& x, const Tensor& wg, const Tensor& wu, const Tensor& wd,
                                     const Tensor& gate, const Tensor& up, const Tensor& act, const Tensor& dy,
                                     Tensor& dx, Tensor& dwg, Tensor& dwu, Tensor& dwd) {
  cpu::swiglu_mlp_backward<float>(x.f32(), {wg.f32(), wu.f32(), wd.f32()}, gate.f32(), up.f32(), act.f32(), dy.f32(),
                                  ptr(dx), {ptr(dwg), ptr(dwu), ptr(dwd)}, x.rows(), x.dim(-1), wg.dim(0));
}

void CpuBackend::residual_forward(const Tensor& a, const Tensor& b, Tensor& y) {
  expect(a.numel() == b.numel() && a.numel() == y.numel(), "residual", dims_str(a.shape()));
  cpu::residual_forward(a.f32(), b.f32(), y.f32(), a.numel());
}

void CpuBackend::residual_backward(const Tensor& dy, Tensor& da, Tensor& db) {
  cpu::residual_backward(dy.f32(), ptr(da), ptr(db), dy.numel());
}

void CpuBackend::mean_pool_forward(const Tensor& x, Tensor& y) {
  expect(x.rank() == 3 && y.rank() == 3 && x.dim(0) == y.dim(0) && x.dim(2) == y.dim(2), "mean_pool",
         dims_str(x.shape()) + " -> " + dims_str(y.shape()));
  cpu::mean_pool_forward(x.f32(), y.f32(), x.dim(0), x.dim(1), y.dim(1), x.dim(2));
}

void CpuBackend::mean_pool_backward(const Tensor& dy, Tensor& dx) {
  cpu::mean_pool_backward(dy.f32(), dx.f32(), dx.dim(0), dx.dim(1), dy.dim(1), dx.dim(2));
}

void CpuBackend::patch_embed_forward(const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& pos,
                                     Tensor& y) {
  expect(x.rank() == 3 && w.dim(1) == x.dim(2) && pos.dim(0) >= x.dim(1) && y.dim(2) == w.dim(0), "patch_embed",
         dims_str(x.shape()) + " with pos " + dims_str(pos.shape()));
  cpu::patch_embed_forward(x.f32(), w.f32(), b.f32(), pos.f32(), y.f32(), x.dim(0), x.dim(1), x.dim(2), w.dim(0));
}

void CpuBackend::patch_embed_backward(const Tensor& x, const Tensor& dy, Tensor& dw, Tensor& db, Tensor& dpos) {
  cpu::patch_embed_backward(x.f32(), dy.f32(), dw.f32(), db.f32(), dpos.f32(), x.dim(0), x.dim(1), x.dim(2),
                            dy.dim(2));
}

void CpuBackend::token_embed_forward(const Tensor& ids, const Tensor& table, Tensor& y) {
  expect(ids.dtype() == DType::kI32 && ids.rank() == 2 && y.dim(2) == table.dim(1), "token_embed",
         dims_str(ids.shape()));
  cpu::token_embed_forward(ids.i32(), table.f32(), y.f32(), ids.dim(0), ids.dim(1), table.dim(0), table.dim(1));
}

void CpuBackend::token_embed_backward(const Tensor& ids, const Tensor& dy, Tensor& dtable) {
  cpu::token_embed_backward(ids.i32(), dy.f32(), dtable.f32(), ids.dim(0), ids.dim(1), dtable.dim(1));
}

void CpuBackend::contrastive_loss_forward(const Tensor& a, const Tensor& b, float inv_temperature, std::int64_t first,
                                          std::int64_t last, Tensor& loss) {
  expect(a.numel() == b.numel() && loss.numel() == 1 && 0 <= first && first <= last && last <= a.rows(),
         "contrastive_loss", dims_str(a.shape()));
  loss.f32()[0] =
      cpu::contrastive_loss_share(a.f32(), b.f32(), a.rows(), a.dim(-1), inv_temperature, first, last);
}

void CpuBackend::contrastive_loss_backward(const Tensor& a, const Tensor& b, float inv_temperature, std::int64_t first,
                                           std::int64_t last, float dloss, Tensor& da, Tensor& db) {
  expect(a.numel() == b.numel() && da.numel() == a.numel() && db.numel() == b.numel() && 0 <= first &&
             first <= last && last <= a.rows(),
         "contrastive_loss_backward", dims_str(a.shape()));
  cpu::contrastive_loss_share_backward(a.f32(), b.f32(), dloss, da.f32(), db.f32(), a.rows(), a.dim(-1),
                                       inv_temperature, first, last);
}

void CpuBackend::lm_head_loss_forward(const Tensor& x, const Tensor& table, const Tensor& labels, Tensor& probs,
                                      Tensor& loss) {
  expect(x.dim(-1) == table.dim(1) && labels.numel() == x.rows() && probs.numel() == x.rows() * table.dim(0),
         "lm_head_loss", dims_str(x.shape()) + " with table " + dims_str(table.shape()));
  loss.f32()[0] = cpu::lm_head_loss_forward(x.f32(), table.f32(), labels.i32(), probs.f32(), x.rows(), x.dim(-1),
                                            table.dim(0));
}

void CpuBackend::lm_head_loss_backward(const Tensor& x, const Tensor& table, const Tensor& labels,
                                       const Tensor& probs, float dloss, Tensor& dx, Tensor& dtable) {
  cpu::lm_head_loss_backward(x.f32(), table.f32(), labels.i32(), probs.f32(), dloss, ptr(dx), ptr(dtable), x.rows(),
                             x.dim(-1), table.dim(0));
}

void CpuBackend::adamw_step(Tensor& w, const Tensor& grad, Tensor& m, Tensor& v, const AdamWParams& p,
                            std::int64_t step) {
  expect(w.numel() == grad.numel() && w.numel() == m.numel() && w.numel() == v.numel(), "adamw", dims_str(w.shape()));
  cpu::adamw_step(w.f32(), grad.f32(), m.f32(), v.f32(), w.numel(), p, step);
}

}  // namespace spindle::engine
