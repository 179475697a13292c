// Kernel decomposition of each operator kind and the roofline-with-efficiency kernel time.
// Bytes are activations and weights in the device's compute dtype (bf16 2, fp32 4) unless noted
// (fp32 logits, fp32 embedding grads).
#include "planner/cost/op_time.h"

#include <algorithm>

#include "planner/cost/tensor_parallel.h"
#include "traces/errors.h"

namespace spindle {
namespace {

constexpr double kFp32 = 4;
// FlashAttention-2's backward runs 5 matmuls against the forward's 2 (it recomputes scores).
constexpr double kAttentionBwdFactor = 2.5;

class KernelList {
 public:
  KernelList(double element_bytes, std::vector<Kernel>& fwd, std::vector<Kernel>& bwd)
      : e_(element_bytes), fwd_(fwd), bwd_(bwd) {}
  double e() const { return e_; }  // bytes of an activation or weight element

  // A linear layer: forward m x n x k; backward dX (m x k x n) and, if it has weights, dW (k x n x m).
  void gemm(double m, double n, double k, bool weight_grad = true, bool input_grad = true) {
    fwd_.push_back(make_gemm(m, n, k));
    if (input_grad) bwd_.push_back(make_gemm(m, k, n));
    if (weight_grad) bwd_.push_back(make_gemm(k, n, m));
  }
  // Fused attention of b*heads problems, s queries over t keys, width h in total.
  void attention(double b, double s, double t, double h, bool causal) {
    Kernel k;
    k.type = Kernel::Type::kAttention;
    k.flops = 4 * b * s * t * h * (causal ? 0.5 : 1.0);
    k.bytes = e_ * (2 * b * s * h + 2 * b * t * h);
    fwd_.push_back(k);
    k.flops *= kAttentionBwdFactor;
    k.bytes *= 2;
    bwd_.push_back(k);
  }
  // A memory-bound kernel moving `bytes` forward and `bwd_factor` x that backward.
  void memory(double bytes, double bwd_factor = 2.0) {
    Kernel k;
    k.bytes = bytes;
    fwd_.push_back(k);
    if (bwd_factor > 0) {
      k.bytes = bytes * bwd_factor;
      bwd_.push_back(k);
    }
  }
  void backward_only_gemm(double m, double n, double k) { bwd_.push_back(make_gemm(m, n, k)); }
  void backward_memory(double bytes) {
    Kernel k;
    k.bytes = bytes;
    bwd_.push_back(k);
  }

 private:
  Kernel make_gemm(double m, double n, double k) const {
    Kernel g;
    g.type = Kernel::Type::kGemm;
    g.m = m;
    g.n = n;
    g.k = k;
    g.flops = 2 * m * n * k;
    g.bytes = e_ * (m * k + k * n + m * n);
    return g;
  }
  double e_;
  std::vector<Kernel>& fwd_;
  std::vector<Kernel>& bwd_;
};

// A transformer block on one rank of a TP group of t (Megatron-LM's split): QKV, the
// cross-attention's Q and KV and the MLP's up projection are column-parallel (each rank
// computes 1/t of the outputs, t | heads), the output and down projections row-parallel (1/t
// of the inputs); attention runs on heads / t; layer norms and residuals are replicated.
void transformer_layer(const Operator& op, double b, double t, KernelList& k) {
  const double s = static_cast<double>(op.shape.seq), h = static_cast<double>(op.shape.hidden);
  const double f = static_cast<double>(op.ffn), bs = b * s;
  k.memory(2 * k.e() * bs * h);  // layer norm
  k.gemm(bs, 3 * h / t, h);      // q, k, v
  k.attention(b, s, s, h / t, op.causal);
  k.gemm(bs, h, h / t);             // output projection
  k.memory(4 * k.e() * bs * h);     // residual + layer norm
  if (op.cross_seq > 0) {           // cross-attention block
    const double m = static_cast<double>(op.cross_seq);
    k.gemm(bs, h / t, h);           // q
    k.gemm(b * m, 2 * h / t, h);    // k, v of the memory
    k.attention(b, s, m, h / t, false);
    k.gemm(bs, h, h / t);           // output projection
    k.memory(4 * k.e() * bs * h);   // residual + layer norm
  }
  const bool swiglu = op.mlp == Mlp::kSwiglu;
  k.gemm(bs, (swiglu ? 2 * f : f) / t, h);                // up (and gate)
  k.memory((swiglu ? 3 : 2) * k.e() * bs * f / t);        // activation
  k.gemm(bs, h, f / t);                                   // down
  k.memory(3 * k.e() * bs * h);                           // residual
}

}  // namespace

double gemm_efficiency(const GpuSpec& gpu, double m, double n, double k) {
  const double f = 2 * m * n * k;
  const double d = std::min({m, n, k});
  return gpu.gemm_peak_efficiency * f / (f * (1 + gpu.gemm_half_dim / d) + gpu.gemm_half_GFLOP * 1e9);
}

double gemm_tflops(const GpuSpec& gpu, double m, double n, double k) {
  return gpu.bf16_dense_TFLOPS * gemm_efficiency(gpu, m, n, k);
}

double kernel_time_s(const GpuSpec& gpu, const Kernel& kernel) {
  const double peak = gpu.bf16_dense_TFLOPS * 1e12;
  double compute = 0;
  if (kernel.type == Kernel::Type::kGemm) {
    compute = kernel.flops / (peak * gemm_efficiency(gpu, kernel.m, kernel.n, kernel.k));
  } else if (kernel.type == Kernel::Type::kAttention) {
    const double size = kernel.flops / (kernel.flops + gpu.gemm_half_GFLOP * 1e9);
    compute = kernel.flops / (peak * gpu.attention_efficiency * size);
  }
  const double memory = kernel.bytes / (gpu.hbm_bw_GBps * 1e9 * gpu.hbm_efficiency);
  return std::max(compute, memory) + gpu.launch_overhead_us * 1e-6;
}

double kernel_variable_time_s(const GpuSpec& gpu, const Kernel& kernel) {
  const double peak = gpu.bf16_dense_TFLOPS * 1e12;
  double compute = 0;
  if (kernel.type == Kernel::Type::kGemm)
    compute = kernel.flops * (1 + gpu.gemm_half_dim / std::min({kernel.m, kernel.n, kernel.k})) /
              (peak * gpu.gemm_peak_efficiency);
  else if (kernel.type == Kernel::Type::kAttention)
    compute = kernel.flops / (peak * gpu.attention_efficiency);
  return std::max(compute, kernel.bytes / (gpu.hbm_bw_GBps * 1e9 * gpu.hbm_efficiency));
}

void op_kernels(const Operator& op, const ParallelConfig& cfg, int element_bytes, std::vector<Kernel>& fwd,
                std::vector<Kernel>& bwd) {
  if (cfg.tp != 1 && !tp_unfit(op, cfg.tp).empty())
    throw InternalError(op.name + " on tp " + std::to_string(cfg.tp) + ": " + tp_unfit(op, cfg.tp));
  if (cfg.dp < 1 || op.shape.batch % cfg.dp != 0)
    throw InternalError("dp " + std::to_string(cfg.dp) + " does not divide the batch of " + op.name);
  const double b = static_cast<double>(op.shape.batch / cfg.dp);
  const double s = static_cast<double>(op.shape.seq), h = static_cast<double>(op.shape.hidden);
  const double out_h = static_cast<double>(op.out_hidden), out_s = static_cast<double>(op.out_seq);
  const double in_f = static_cast<double>(op.in_features);
  const double t = cfg.tp;
  KernelList k(element_bytes, fwd, bwd);
  switch (op.kind) {
    case OpKind::kEncoderLayer:
    case OpKind::kDecoderLayer:
      transformer_layer(op, b, t, k);
      break;
    case OpKind::kPatchEmbed:
      k.gemm(b * s, h, in_f, /*weight_grad=*/true, /*input_grad=*/false);  // raw inputs need no grad
      k.memory(3 * k.e() * b * s * h, 1.0);                                  // + position embedding
      break;
    case OpKind::kTokenEmbed:
      k.memory(2 * k.e() * b * s * h, 0);                        // gather rows
      k.backward_memory(k.e() * b * s * h + 2 * kFp32 * b * s * h);  // scatter-add into fp32 grads
      break;
    case OpKind::kCrossAttention:  // resampler: out_s learned queries over the s input tokens
      k.memory(2 * k.e() * b * s * h);
      k.gemm(b * out_s, out_h / t, out_h);  // q (column-parallel under TP)
      k.gemm(b * s, 2 * out_h / t, h);      // k, v
      k.attention(b, out_s, s, out_h / t, false);
      k.gemm(b * out_s, out_h, out_h / t);  // output projection (row-parallel)
      break;
    case OpKind::kProjectionHead:
      k.memory(3 * k.e() * b * s * h);  // layer norm + pooling
      k.gemm(b * out_s, out_h, h);
      break;
    case OpKind::kContrastiveLoss: {
      // Each device scores its b rows against the gathered batch, both directions.
      const double global = static_cast<double>(op.shape.batch);
      k.gemm(b, global, h, /*weight_grad=*/false);
      k.gemm(b, global, h, /*weight_grad=*/false);
      k.backward_only_gemm(global, h, b);
      k.backward_only_gemm(global, h, b);
      k.memory(2 * 3 * kFp32 * b * global);  // two softmax cross-entropies
      break;
    }
    case OpKind::kLmHead:
      k.gemm(b * s, in_f, h);
      k.memory(3 * kFp32 * b * s * in_f);  // fp32 logits: max, exp-sum, loss
      break;
  }
}

OpTime analytic_op_time(const Operator& op, const GpuSpec& gpu, const ParallelConfig& cfg) {
  std::vector<Kernel> fwd, bwd;
  op_kernels(op, cfg, gpu.activation_bytes(), fwd, bwd);
  OpTime t;
  for (const Kernel& k : fwd) t.fwd_s += kernel_time_s(gpu, k);
  for (const Kernel& k : bwd) t.bwd_s += kernel_time_s(gpu, k);
  return t;
}

double flops_only_time_s(const Operator& op, const GpuSpec& gpu, const ParallelConfig& cfg) {
  return (op.cost.fwd_flops + op.cost.bwd_flops) / cfg.devices() / (gpu.bf16_dense_TFLOPS * 1e12);
}

}  // namespace spindle
