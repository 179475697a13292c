// Memory per device, the quantity placement balances (Spindle paper, arXiv 2409.03365): for every layer a
// device holds, bf16 weights, bf16 gradients (or, where a weight serves several tasks, an fp32
// buffer that every task's weight gradient accumulates into, as Megatron-LM's main_grad),
// fp32 master weights and Adam moments (divided by the weight-sync group under ZeRO-1); the
// activations its forward slices store for backward (scaled to the local batch); a workspace.
#pragma once

#include "planner/cost/parallel_config.h"
#include "planner/graph/graph.h"

namespace spindle {

struct MemoryBreakdown {
  double weights = 0, grads = 0, optimizer = 0, accumulation = 0, activations = 0, workspace = 0;  // bytes
  double total() const { return weights + grads + optimizer + accumulation + activations + workspace; }
  MemoryBreakdown& operator+=(const MemoryBreakdown& o);
};

inline constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;

// Bytes one device keeps for `params` weights: 2 (bf16) + 2 (bf16 gradient) or 4 (fp32
// accumulation when `shared` across tasks) + 12 (fp32 master, Adam m and v), the 12 divided
// by `sync_group` under ZeRO-1.
double weight_state_bytes(double params, int sync_group, bool zero1, bool shared);

// `layers` operators like `op` on one device of `cfg` (local batch = batch / dp; under TP a
// splittable operator keeps 1/tp of its weight state and the split part of its activations,
// tensor_parallel.h). `sync_group` is the number of devices its weights (this rank's shard)
// are synchronised over (ZeRO-1 shards over it);
// `shared` says the weights serve several tasks. No workspace.
MemoryBreakdown layer_memory(const Operator& op, int layers, const ParallelConfig& cfg, int sync_group, bool shared);

}  // namespace spindle
