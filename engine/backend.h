// The backend interface: memory and every kernel the zoo's models need, forward and backward,
// on tensors the backend allocated. The CPU backend (cpu_backend.h) is the fp32 reference; a
// GPU backend implements the same calls on device memory and is chosen in backend_registry.cpp.
// Shapes are read from the tensors; leading dimensions are rows. Every backward call ADDS into
// its gradient outputs (shared weights and residual branches accumulate); an empty Tensor
// means "not needed".
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "engine/cpu/adamw.h"
#include "engine/memory_parts.h"
#include "engine/tensor.h"
#include "traces/errors.h"

namespace spindle::engine {

using AdamWParams = cpu::AdamWParams;

// One weight's part of a multi-tensor optimizer step: its values, gradient and moments (one
// element count) and its weight decay.
struct AdamWSlice {
  Tensor w, grad, m, v;
  float weight_decay = 0;
};

// A point in a stream-ordered backend's queue (a CUDA event): the work queued before it.
class Fence {
 public:
  virtual ~Fence() = default;
};

// A timed point in the calling thread's queue (Backend::time_mark): the steady clock's reading
// on the CPU; a timing CUDA event on a stream.
class TimeMark {
 public:
  virtual ~TimeMark() = default;
  std::chrono::steady_clock::time_point at;  // the host backend's reading
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;
  // Whether tensors live in host memory (the CPU communicators then move them directly).
  virtual bool host_memory() const { return true; }

  // Streams. A stream-ordered backend (CUDA) queues each call on the calling thread's stream
  // and returns; the CPU backend runs every call before returning and does nothing here. A
  // thread that calls use_side_stream() queues its later work on the side stream (with a
  // memory pool of its own; one thread at a time: the rank's weight-sync thread), every other
  // thread on the compute stream. fence(): a point after the work the calling thread queued so
  // far (null where there is nothing to wait for); wait(f): the calling thread's later work
  // starts after f; synchronize(): returns once the calling thread's queued work is done.
  virtual void use_side_stream() {}
  virtual std::shared_ptr<const Fence> fence() { return nullptr; }
  virtual void wait(const std::shared_ptr<const Fence>& f) { (void)f; }
  virtual void synchronize() {}

  // Timing (spindle-calibrate): time_mark() records a point after the work the calling thread
  // queued so far; elapsed_ms(a, b) waits for b and returns the milliseconds from a to b as the
  // device ran them (CUDA events: the kernels and the gaps between them, not the host's
  // enqueueing). The CPU backend, whose calls are done when they return, reads the steady clock.
  // timer_name() says which, as profiles record it.
  virtual std::shared_ptr<const TimeMark> time_mark() {
    auto m = std::make_shared<TimeMark>();
    m->at = std::chrono::steady_clock::now();
    return m;
  }
  virtual double elapsed_ms(const TimeMark& a, const TimeMark& b) {
    return std::chrono::duration<double, std::milli>(b.at - a.at).count();
  }
  virtual std::string timer_name() const { return "steady_clock"; }

  // Memory. alloc returns zeroed memory, charged to the thread's MemPartScope (memory_parts.h).
  virtual Tensor alloc(const Dims& shape, DType dtype) = 0;
  // Without a dtype: the storage of the tensors between kernels (activation_dtype()) where the
  // thread allocates activations or buffers, fp32 elsewhere (weights, gradients, optimizer
  // state, the fp32 masters of mixed precision).
  Tensor alloc(const Dims& shape) {
    const MemPart part = MemPartScope::current();
    return alloc(shape, part == MemPart::kActivations || part == MemPart::kBuffers ? activation_ : DType::kF32);
  }
  // fp32 (the default) or bf16: how activations, their gradients and transfers are stored.
  void set_activation_dtype(DType d) { activation_ = d; }
  DType activation_dtype() const { return activation_; }
  // The allocator's bytes by part, and their peaks since the start or reset_peak().
  virtual MemoryUse memory_use() const = 0;
  virtual void reset_peak() = 0;
  virtual void zero(Tensor& t) = 0;
  virtual void upload(Tensor& dst, std::span<const float> src) = 0;
  virtual void upload(Tensor& dst, std::span<const std::int32_t> src) = 0;
  virtual void download(const Tensor& src, std::span<float> dst) = 0;
  // dst[:, dst_first + i] (+)= src[:, src_first + i] for i < count, on [B, S, D] tensors.
  virtual void copy_tokens(const Tensor& src, std::int64_t src_first, Tensor& dst, std::int64_t dst_first,
                           std::int64_t count, bool accumulate) = 0;
  // dst [B, S, D] = src [S, D] for every b; backward: dsrc += sum over b of ddst.
  virtual void repeat_batch(const Tensor& src, Tensor& dst) = 0;
  virtual void repeat_batch_backward(const Tensor& ddst, Tensor& dsrc) = 0;
  // The sum of every element's square over all of `ts` (one reduction: the CUDA backend
  // waits for its stream once, not per tensor).
  virtual double sum_squares(std::span<const Tensor> ts) = 0;
  virtual void scale(Tensor& t, float factor) = 0;

  // Kernels (engine/cpu/<name>.h documents each one's math).
  virtual void linear_forward(const Tensor& x, const Tensor& w, const Tensor& b, Tensor& y) = 0;
  virtual void linear_backward(const Tensor& x, const Tensor& w, const Tensor& dy, Tensor& dx, Tensor& dw,
                               Tensor& db) = 0;
  virtual void layer_norm_forward(const Tensor& x, const Tensor& g, const Tensor& b, Tensor& y, Tensor& mean,
                                  Tensor& rstd) = 0;
  virtual void layer_norm_backward(const Tensor& x, const Tensor& g, const Tensor& mean, const Tensor& rstd,
                                   const Tensor& dy, Tensor& dx, Tensor& dg, Tensor& db) = 0;
  // q [B, Sq, D], k, v [B, Sk, D]; stats [B, heads, Sq] fp32: what forward keeps for backward
  // (each query row's log-sum-exp, as FlashAttention and cuDNN keep; never the probabilities).
  virtual void attention_forward(const Tensor& q, const Tensor& k, const Tensor& v, int heads, bool causal,
                                 Tensor& out, Tensor& stats) = 0;
  virtual void attention_backward(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& stats, int heads,
                                  bool causal, const Tensor& dout, Tensor& dq, Tensor& dk, Tensor& dv) = 0;
  virtual void gelu_mlp_forward(const Tensor& x, const Tensor& w1, const Tensor& b1, const Tensor& w2,
                                const Tensor& b2, Tensor& pre, Tensor& act, Tensor& y) = 0;
  virtual void gelu_mlp_backward(const Tensor& x, const Tensor& w1, const Tensor& w2, const Tensor& pre,
                                 const Tensor& act, const Tensor& dy, Tensor& dx, Tensor& dw1, Tensor& db1,
                                 Tensor& dw2, Tensor& db2) = 0;
  virtual void swiglu_mlp_forward(const Tensor& x, const Tensor& wg, const Tensor& wu, const Tensor& wd, Tensor& gate,
                                  Tensor& up, Tensor& act, Tensor& y) = 0;
  virtual void swiglu_mlp_backward(const Tensor& x, const Tensor& wg, const Tensor& wu, const Tensor& wd,
                                   const Tensor& gate, const Tensor& up, const Tensor& act, const Tensor& dy,
                                   Tensor& dx, Tensor& dwg, Tensor& dwu, Tensor& dwd) = 0;
  virtual void residual_forward(const Tensor& a, const Tensor& b, Tensor& y) = 0;
  virtual void residual_backward(const Tensor& dy, Tensor& da, Tensor& db) = 0;
  // x [B, S, D] -> y [B, O, D].
  virtual void mean_pool_forward(const Tensor& x, Tensor& y) = 0;
  virtual void mean_pool_backward(const Tensor& dy, Tensor& dx) = 0;
  // x [B, T, P] raw features -> y [B, T, H].
  virtual void patch_embed_forward(const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& pos,
                                   Tensor& y) = 0;
  virtual void patch_embed_backward(const Tensor& x, const Tensor& dy, Tensor& dw, Tensor& db, Tensor& dpos) = 0;
  // ids [B, T] int32 -> y [B, T, H].
  virtual void token_embed_forward(const Tensor& ids, const Tensor& table, Tensor& y) = 0;
  virtual void token_embed_backward(const Tensor& ids, const Tensor& dy, Tensor& dtable) = 0;
  // a, b [B, D] -> loss [1]: the share of rows [first, last) (cpu/contrastive_loss.h), the
  // whole loss for [0, B); backward adds the share's gradient into all B rows of da, db.
  virtual void contrastive_loss_forward(const Tensor& a, const Tensor& b, float inv_temperature, std::int64_t first,
                                        std::int64_t last, Tensor& loss) = 0;
  virtual void contrastive_loss_backward(const Tensor& a, const Tensor& b, float inv_temperature, std::int64_t first,
                                         std::int64_t last, float dloss, Tensor& da, Tensor& db) = 0;
  // x [n, H], table [V, H], labels [n] int32 -> loss [1]; stats [n] fp32: each row's
  // log-sum-exp, what forward keeps (the logits [n, V] are computed a block of rows at a time
  // and recomputed in backward, never held whole).
  virtual void lm_head_loss_forward(const Tensor& x, const Tensor& table, const Tensor& labels, Tensor& stats,
                                    Tensor& loss) = 0;
  virtual void lm_head_loss_backward(const Tensor& x, const Tensor& table, const Tensor& labels, const Tensor& stats,
                                     float dloss, Tensor& dx, Tensor& dtable) = 0;
  // A multi-tensor AdamW step, in place on every slice's fp32 master weights w and moments m, v
  // (p's weight_decay is not used: each slice's is): one call for a device's weights, as a
  // fused optimizer runs (the CUDA backend launches once per list of tensors, Apex-style).
  virtual void adamw_step(std::span<const AdamWSlice> slices, const AdamWParams& p, std::int64_t step) = 0;
  // One tensor (weight decay p's).
  void adamw_step(Tensor& w, const Tensor& grad, Tensor& m, Tensor& v, const AdamWParams& p, std::int64_t step) {
    const AdamWSlice one{w, grad, m, v, p.weight_decay};
    adamw_step(std::span<const AdamWSlice>(&one, 1), p, step);
  }

 private:
  DType activation_ = DType::kF32;
};

// dst (+)= src, element by element, for tensors of one element count (any shapes).
inline void copy_flat(Backend& be, const Tensor& src, Tensor& dst, bool accumulate) {
  if (src.numel() != dst.numel()) throw InternalError("copy of " + dims_str(src.shape()) + " into " + dims_str(dst.shape()));
  if (src.numel() == 0) return;
  Tensor d = dst.reshaped({1, 1, dst.numel()});
  be.copy_tokens(src.reshaped({1, 1, src.numel()}), 0, d, 0, 1, accumulate);
}

}  // namespace spindle::engine
