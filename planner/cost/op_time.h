// Analytic time of one operator on one device: the operator is broken into the kernels a
// real implementation launches (GEMMs, fused attention, memory-bound elementwise kernels);
// each takes max(FLOPs / (peak x efficiency), bytes / (HBM bandwidth x HBM efficiency)) plus
// the launch overhead. GEMM efficiency falls for small and skinny GEMMs (see gemm_efficiency),
// so an operator whose local batch shrinks speeds up less than linearly, as on real GPUs.
// Forward and backward are kept apart.
#pragma once

#include <vector>

#include "planner/config/scenario.h"
#include "planner/cost/parallel_config.h"
#include "planner/graph/graph.h"

namespace spindle {

struct Kernel {
  enum class Type { kGemm, kAttention, kMemory };
  Type type = Type::kMemory;
  double m = 0, n = 0, k = 0;  // GEMM dimensions
  double flops = 0;
  double bytes = 0;
};

struct OpTime {
  double fwd_s = 0;
  double bwd_s = 0;
  double total_s() const { return fwd_s + bwd_s; }
};

// Fraction of peak an m x n x k GEMM reaches: the GEMM takes
// (F (1 + d_half / d) + F_half) / (peak x gemm_peak_efficiency), F = 2mnk, d = min(m, n, k):
// a latency floor (F_half) for small GEMMs and a throughput loss for skinny ones.
double gemm_efficiency(const GpuSpec& gpu, double m, double n, double k);
// Achieved TFLOP/s of an m x n x k GEMM under the model (what the published GEMM measurements cited in scenarios/gpus/*.toml measure).
double gemm_tflops(const GpuSpec& gpu, double m, double n, double k);

double kernel_time_s(const GpuSpec& gpu, const Kernel& kernel);
// The same kernel without its fixed costs (the launch, a small GEMM's or attention's latency
// floor): max(FLOPs at the shape's efficiency, bytes at HBM speed). analytic_fit.h fits the
// fixed costs to a profile apart.
double kernel_variable_time_s(const GpuSpec& gpu, const Kernel& kernel);

// The kernels of `op` (shapes as in the graph: global batch) on one device of `cfg`, its
// activations and weights `element_bytes` each (GpuSpec::activation_bytes: bf16 2, fp32 4).
void op_kernels(const Operator& op, const ParallelConfig& cfg, int element_bytes, std::vector<Kernel>& fwd,
                std::vector<Kernel>& bwd);

OpTime analytic_op_time(const Operator& op, const GpuSpec& gpu, const ParallelConfig& cfg);

// The FLOPs-only estimate: the operator's FLOPs split evenly over the devices at peak.
double flops_only_time_s(const Operator& op, const GpuSpec& gpu, const ParallelConfig& cfg);

}  // namespace spindle
