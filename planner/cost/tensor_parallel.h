// Tensor parallelism inside a MetaOp (Megatron-LM, Shoeybi et al. 2019): which operators can
// split over a TP group of t GPUs inside one node, the activation all-reduces that splitting
// adds (one after each row-parallel linear in forward; one per column-parallel input in
// backward), what stays replicated in memory (Korthikanti et al. 2022, no sequence
// parallelism), and the time of one such all-reduce on the cluster's NVLink.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "planner/config/scenario.h"
#include "planner/graph/graph.h"

namespace spindle {

// The TP degrees the planner tries: powers of two up to a node's GPUs.
inline constexpr int kTpDegrees[] = {1, 2, 4, 8};

// Attention and MLP layers split (encoder and decoder layers, the cross-attention resampler);
// embeddings, projection and LM heads and losses stay whole on each device (tp = 1).
bool tp_splittable(const Operator& op);

// The weight group of shard `shard` of a degree-`of` layout of `weights` ("llm/layer3@1of4"),
// as weight sync and the engine name it; `weights` itself when of = 1.
std::string tp_shard_group(const std::string& weights, int shard, int of);

// The shards [first, last) of a degree-`of` layout that rank `rank` of a TP group of `ranks`
// holds (`ranks` divides `of`: a group smaller than the degree nests of / ranks shards per rank).
inline std::pair<int, int> held_shard_range(int rank, int ranks, int of) {
  return {rank * (of / ranks), (rank + 1) * (of / ranks)};
}

// "" when `op` can run on a TP group of `tp` GPUs; otherwise why not (heads or ffn not
// divisible), for error messages.
std::string tp_unfit(const Operator& op, int tp);

// The activation all-reduces of one operator on a TP group, in the order they run, as bytes
// (`element_bytes` per element: GpuSpec::activation_bytes) for a local batch of `rows`
// samples. Empty for tp = 1 and unsplittable operators.
struct TpReductions {
  std::vector<std::int64_t> fwd;  // after each row-parallel linear: attention out, cross out, MLP down
  std::vector<std::int64_t> bwd;  // input gradients of the column-parallel linears: QKV, cross Q, cross KV (memory), MLP up
};
TpReductions tp_reductions(const Operator& op, std::int64_t rows, int tp, int element_bytes);

// Stored activation bytes (global batch) that every rank of a TP group keeps whole: layer
// norm inputs, residuals and dropout masks, 10 s b h per transformer block (Korthikanti et
// al.: s b h (10 + 24 / t + 5 a s / (h t)) per layer). The rest divides by t.
double tp_replicated_activation_bytes(const Operator& op);

// Seconds of one all-reduce of `bytes` on a TP group of `tp` GPUs inside one node, as the
// simulator charges it (the cluster's collective model, or a measured collective).
double tp_allreduce_s(double bytes, int tp, const Cluster& cluster);

}  // namespace spindle
