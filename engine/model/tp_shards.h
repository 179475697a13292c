// Tensor-parallel shards of a layer's weights (Megatron-LM's column/row-parallel split): which
// tensors split by output rows (the QKV projections and the first MLP linears, with their
// biases), which by input columns (the attention output and the last MLP linear), and which
// stay whole on every rank (norms, the biases added after the all-reduce, learned queries).
// Shard j of a degree-t layout lives in weight group "<group>@<j>of<t>" (planner's
// tp_shard_group); the element ranges map a shard back onto the unsharded tensor's names.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "engine/tensor.h"

namespace spindle::engine {

enum class TpSplit { kReplicated, kRows, kCols };

// `tensor`: a name inside a layer's weight group ("attn.wq", "mlp.b1", "ln1.g").
TpSplit tp_split(const std::string& tensor);

// A weight name split into its (unsharded) group, shard and degree, and tensor:
// "llm/layer3@1of4/attn.wq" -> {"llm/layer3", 1, 4, "attn.wq"}; a whole weight has of = 1.
struct ShardedName {
  std::string group;
  int shard = 0, of = 1;
  std::string tensor;
  std::string unsharded() const { return group + "/" + tensor; }
  // A replicated tensor's copy in a shard other than 0 (the gradient norm and the unsharded
  // view count each weight once, by shard 0's copy).
  bool extra_copy() const { return of > 1 && shard != 0 && tp_split(tensor) == TpSplit::kReplicated; }
};
ShardedName parse_sharded(const std::string& name);

// The shape of shard j of a tensor of shape `full` (every shard has the same shape).
Dims shard_dims(const Dims& full, TpSplit split, int of);

// The values of shard `shard` of `full` (row-major, shape `dims`).
std::vector<float> shard_values(const std::vector<float>& full, const Dims& dims, TpSplit split, int shard, int of);

// The inverse: shard `shard`'s values written at their places in `full` (the unsharded tensor
// of shape `dims`, already sized).
void place_shard(const std::vector<float>& values, const Dims& dims, TpSplit split, int shard, int of,
                 std::vector<float>& full);

// Elements [first, last) of shard `shard` (its own row-major order) as ranges of the unsharded
// tensor of shape `dims`, ascending.
std::vector<std::pair<std::int64_t, std::int64_t>> unsharded_ranges(const Dims& dims, TpSplit split, int shard, int of,
                                                                    std::int64_t first, std::int64_t last);

}  // namespace spindle::engine
