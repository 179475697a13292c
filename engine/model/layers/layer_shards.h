// How one rank computes a layer that tensor parallelism splits (tp_shards.h): the weight
// groups of the shards it holds (the whole layer, one shard of a TP group, or several nested
// shards where its slice's TP group is smaller than the layout's degree), the degree, whether
// it adds the biases of the row-parallel linears (once per TP group: its rank 0), and the sum
// of a partial result over the TP group (none when the rank is alone).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "engine/backend.h"

namespace spindle::engine {

struct LayerShards {
  std::vector<std::string> groups;  // one per held shard, ascending; replicated tensors are read from the first
  int of = 1;                       // the layout's degree: each shard has heads / of heads
  bool adds_bias = true;
  std::function<void(Tensor&)> all_reduce;  // in place, over the TP group; empty: no other rank

  static LayerShards whole(const std::string& group) { return LayerShards{{group}, 1, true, {}}; }
  const std::string& replicated() const { return groups.front(); }
  bool splits() const { return static_cast<bool>(all_reduce); }
  void reduce(Tensor& t) const {
    if (all_reduce) all_reduce(t);
  }
};

}  // namespace spindle::engine
