// Memory per device, the quantity placement balances (SPINDLE.md §5): for every layer a
// device holds, bf16 weights and gradients, fp32 master weights and Adam moments (divided by
// the weight-sync group under ZeRO-1), an fp32 accumulation buffer where a weight is shared
// across tasks; the activations its forward slices store for backward (Korthikanti et al.,
// scaled to the local batch); and a fixed workspace per GPU.
#pragma once

#include "planner/graph.h"
#include "planner/parallel_config.h"

namespace spindle {

struct MemoryBreakdown {
  double weights = 0, grads = 0, optimizer = 0, accumulation = 0, activations = 0, workspace = 0;  // bytes
  double total() const { return weights + grads + optimizer + accumulation + activations + workspace; }
  MemoryBreakdown& operator+=(const MemoryBreakdown& o);
};

inline constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;

// `layers` operators like `op` on one device of `cfg` (local batch = batch / dp). `sync_group`
// is the number of devices its weights are synchronised over (ZeRO-1 shards over it);
// `shared` says the weights serve several tasks (an fp32 accumulation buffer). No workspace.
MemoryBreakdown layer_memory(const Operator& op, int layers, const ParallelConfig& cfg, int sync_group, bool shared);

}  // namespace spindle
