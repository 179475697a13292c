// The CPU reference backend: host memory (cached by size, cpu/host_cache.h) and the fp32
// kernels of engine/cpu/ (bf16 tensors are widened for them and narrowed back, cpu/bf16.h) (GEMMs through single-threaded OpenBLAS, cpu/blas.h; the rest plain
// C++), deterministic (the same inputs give the same bits).
#pragma once

#include <memory>

#include "engine/backend.h"
#include "engine/cpu/host_cache.h"

namespace spindle::engine {

class CpuBackend final : public Backend {
 public:
  std::string name() const override { return "cpu"; }
  using Backend::alloc;
  Tensor alloc(const Dims& shape, DType dtype) override;
  void zero(Tensor& t) override;
  MemoryUse memory_use() const override { return cache_->use(); }
  void reset_peak() override { cache_->reset_peak(); }
  void upload(Tensor& dst, std::span<const float> src) override;
  void upload(Tensor& dst, std::span<const std::int32_t> src) override;
  void download(const Tensor& src, std::span<float> dst) override;
  void copy_tokens(const Tensor& src, std::int64_t src_first, Tensor& dst, std::int64_t dst_first,
                   std::int64_t count, bool accumulate) override;
  void repeat_batch(const Tensor& src, Tensor& dst) override;
  void repeat_batch_backward(const Tensor& ddst, Tensor& dsrc) override;
  double sum_squares(std::span<const Tensor> ts) override;
  void scale(Tensor& t, float factor) override;

  void linear_forward(const Tensor& x, const Tensor& w, const Tensor& b, Tensor& y) override;
  void linear_backward(const Tensor& x, const Tensor& w, const Tensor& dy, Tensor& dx, Tensor& dw,
                       Tensor& db) override;
  void layer_norm_forward(const Tensor& x, const Tensor& g, const Tensor& b, Tensor& y, Tensor& mean,
                          Tensor& rstd) override;
  void layer_norm_backward(const Tensor& x, const Tensor& g, const Tensor& mean, const Tensor& rstd, const Tensor& dy,
                           Tensor& dx, Tensor& dg, Tensor& db) override;
  void attention_forward(const Tensor& q, const Tensor& k, const Tensor& v, int heads, bool causal, Tensor& out,
                         Tensor& stats) override;
  void attention_backward(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& stats, int heads,
                          bool causal, const Tensor& dout, Tensor& dq, Tensor& dk, Tensor& dv) override;
  void gelu_mlp_forward(const Tensor& x, const Tensor& w1, const Tensor& b1, const Tensor& w2, const Tensor& b2,
                        Tensor& pre, Tensor& act, Tensor& y) override;
  void gelu_mlp_backward(const Tensor& x, const Tensor& w1, const Tensor& w2, const Tensor& pre, const Tensor& act,
                         const Tensor& dy, Tensor& dx, Tensor& dw1, Tensor& db1, Tensor& dw2, Tensor& db2) override;
  void swiglu_mlp_forward(const Tensor& x, const Tensor& wg, const Tensor& wu, const Tensor& wd, Tensor& gate,
                          Tensor& up, Tensor& act, Tensor& y) override;
  void swiglu_mlp_backward(const Tensor& x, const Tensor& wg, const Tensor& wu, const Tensor& wd, const Tensor& gate,
                           const Tensor& up, const Tensor& act, const Tensor& dy, Tensor& dx, Tensor& dwg,
                           Tensor& dwu, Tensor& dwd) override;
  void residual_forward(const Tensor& a, const Tensor& b, Tensor& y) override;
  void residual_backward(const Tensor& dy, Tensor& da, Tensor& db) override;
  void mean_pool_forward(const Tensor& x, Tensor& y) override;
  void mean_pool_backward(const Tensor& dy, Tensor& dx) override;
  void patch_embed_forward(const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& pos, Tensor& y) override;
  void patch_embed_backward(const Tensor& x, const Tensor& dy, Tensor& dw, Tensor& db, Tensor& dpos) override;
  void token_embed_forward(const Tensor& ids, const Tensor& table, Tensor& y) override;
  void token_embed_backward(const Tensor& ids, const Tensor& dy, Tensor& dtable) override;
  void contrastive_loss_forward(const Tensor& a, const Tensor& b, float inv_temperature, std::int64_t first,
                                std::int64_t last, Tensor& loss) override;
  void contrastive_loss_backward(const Tensor& a, const Tensor& b, float inv_temperature, std::int64_t first,
                                 std::int64_t last, float dloss, Tensor& da, Tensor& db) override;
  void lm_head_loss_forward(const Tensor& x, const Tensor& table, const Tensor& labels, Tensor& stats,
                            Tensor& loss) override;
  void lm_head_loss_backward(const Tensor& x, const Tensor& table, const Tensor& labels, const Tensor& stats,
                             float dloss, Tensor& dx, Tensor& dtable) override;
  using Backend::adamw_step;
  void adamw_step(std::span<const AdamWSlice> slices, const AdamWParams& p, std::int64_t step) override;
 private:
  std::shared_ptr<cpu::HostCache> cache_ = cpu::HostCache::make();
};

}  // namespace spindle::engine
