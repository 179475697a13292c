// Byte counts per device (see memory_model.h).
#include "planner/memory_model.h"

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

MemoryBreakdown layer_memory(const Operator& op, int layers, const ParallelConfig& cfg, int sync_group, bool shared) {
  const double p = static_cast<double>(op.cost.params);
  const double l = layers;
  MemoryBreakdown m;
  m.weights = l * 2 * p;                                                    // bf16
  m.grads = l * 2 * p;                                                      // bf16
  m.optimizer = l * 12 * p / (cfg.zero1 && sync_group > 1 ? sync_group : 1);  // fp32 master + Adam m, v
  m.accumulation = shared ? l * 4 * p : 0;                                  // fp32, across tasks
  const double local_share = 1.0 / cfg.dp;                                  // activations scale with batch
  m.activations = l * static_cast<double>(op.cost.activation_bytes) * local_share;
  return m;
}

}  // namespace spindle
