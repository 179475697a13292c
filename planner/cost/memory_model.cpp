// Byte counts per device (see memory_model.h).
#include "planner/cost/memory_model.h"

#include <algorithm>

#include "planner/cost/tensor_parallel.h"

namespace spindle {

MemoryBreakdown& MemoryBreakdown::operator+=(const MemoryBreakdown& o) {
  weights += o.weights;
  grads += o.grads;
  optimizer += o.optimizer;
  accumulation += o.accumulation;
  activations += o.activations;
  workspace += o.workspace;
  return *this;
}

namespace {
double optimizer_bytes(double params, int sync_group, bool zero1) {
  return 12 * params / (zero1 && sync_group > 1 ? sync_group : 1);  // fp32 master + Adam m, v
}
}  // namespace

double weight_state_bytes(double params, int sync_group, bool zero1, bool shared) {
  return 2 * params + (shared ? 4 : 2) * params + optimizer_bytes(params, sync_group, zero1);
}

MemoryBreakdown layer_memory(const Operator& op, int layers, const ParallelConfig& cfg, int sync_group, bool shared) {
  const double t = cfg.tp > 1 && tp_splittable(op) ? cfg.tp : 1;
  const double p = static_cast<double>(op.cost.params) / t;  // this rank's shard
  const double l = layers;
  MemoryBreakdown m;
  m.weights = l * 2 * p;                     // bf16
  m.grads = shared ? 0 : l * 2 * p;          // bf16, or ...
  m.accumulation = shared ? l * 4 * p : 0;   // ... fp32, accumulated across tasks
  m.optimizer = l * optimizer_bytes(p, sync_group, cfg.zero1);
  // Scaled to the local batch; under TP the replicated part stays whole, the rest divides.
  const double act = static_cast<double>(op.cost.activation_bytes);
  const double replicated = t > 1 ? std::min(act, tp_replicated_activation_bytes(op)) : act;
  m.activations = l * (replicated + (act - replicated) / t) / cfg.dp;
  return m;
}

}  // namespace spindle
