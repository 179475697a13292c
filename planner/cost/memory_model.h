// Memory per device, the quantity placement balances (Spindle paper, arXiv 2409.03365): for every layer a
// device holds, bf16 weights, bf16 gradients (or, where a weight serves several tasks, an fp32
// buffer that every task's weight gradient accumulates into, as Megatron-LM's main_grad),
// fp32 master weights and Adam moments (divided by the weight-sync group under ZeRO-1); the
// activations its forward slices store for backward (scaled to the local batch); a workspace.
#pragma once

#include <string>

#include "planner/config/scenario.h"
#include "planner/cost/parallel_config.h"
#include "planner/graph/graph.h"

namespace spindle {

// How a run stores its state, in bytes per element: what the memory model counts. Planning
// uses mixed_precision(); fp32_unfused() is the CPU engine's storage, for estimates that
// compare like for like with what the engine's allocator measures.
struct Storage {
  std::string name;
  double weight_bytes = 2;       // the working copy
  double grad_bytes = 2;         // gradient of a weight one task uses
  double shared_grad_bytes = 4;  // of a weight several tasks use (accumulated across tasks)
  double master_bytes = 4;       // fp32 master copy; 0 when the working copy is the master
  double moment_bytes = 8;       // AdamW m and v
  // Stored activations: Korthikanti et al.'s bf16 count with fused attention
  // (Operator::cost.activation_bytes), or, when `unfused`, the tensors an implementation
  // without fused kernels or dropout keeps for backward (unfused_activation_elements), of
  // `element_bytes` each.
  bool unfused = false;
  double element_bytes = 2;
};
Storage mixed_precision();  // bf16 weights and gradients, fp32 master and moments (Megatron-LM)
Storage fp32_unfused();     // fp32 everything, unfused but memory-lean kernels (spindle-run's CPU backend)
// What the planner counts on `gpu`: the CPU backend's fp32_unfused() where the device file says
// backend "cpu", else mixed_precision() (the CUDA backend's bf16 training, every GPU file's).
Storage device_storage(const GpuSpec& gpu);

// The elements one operator of an unfused implementation keeps from forward for backward, for
// its whole batch (op.shape.batch rows; a contrastive loss keeps both embeddings of the whole
// batch however many rows it computes), and of those the part that stays whole on every rank
// of a TP group (layer-norm inputs and outputs, residual streams) rather than dividing by it.
struct StoredElements {
  double total = 0, replicated = 0;
};
StoredElements unfused_activation_elements(const Operator& op);

// Bytes `op` stores for backward at its whole batch under `storage`, and the replicated part.
StoredElements stored_bytes(const Operator& op, const Storage& storage);

struct MemoryBreakdown {
  double weights = 0, grads = 0, optimizer = 0, accumulation = 0, activations = 0, workspace = 0;  // bytes
  double total() const { return weights + grads + optimizer + accumulation + activations + workspace; }
  MemoryBreakdown& operator+=(const MemoryBreakdown& o);
};

inline constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;

// Bytes one device keeps for `params` weights: 2 (bf16) + 2 (bf16 gradient) or 4 (fp32
// accumulation when `shared` across tasks) + 12 (fp32 master, Adam m and v), the 12 divided
// by `sync_group` under ZeRO-1.
double weight_state_bytes(double params, int sync_group, bool zero1, bool shared,
                          const Storage& storage = mixed_precision());

// `layers` operators like `op` on one device of `cfg` (local batch = batch / dp; under TP a
// splittable operator keeps 1/tp of its weight state and the split part of its activations,
// tensor_parallel.h). `sync_group` is the number of devices its weights (this rank's shard)
// are synchronised over (ZeRO-1 shards over it);
// `shared` says the weights serve several tasks. No workspace.
MemoryBreakdown layer_memory(const Operator& op, int layers, const ParallelConfig& cfg, int sync_group, bool shared,
                             const Storage& storage = mixed_precision());

}  // namespace spindle
