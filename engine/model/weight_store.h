// Every weight of the model, keyed by name (never by device): value (fp32 master), gradient
// and AdamW moments. Built from the planner's graph, so a component shared by several tasks
// is one set of tensors whose gradients accumulate across tasks.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>

#include "engine/backend.h"
#include "planner/config/scenario.h"
#include "planner/graph/graph.h"

namespace spindle::engine {

struct Param {
  Tensor value, grad, m, v;
  bool decay = false;  // weight decay on matrices and tables, not on gains, biases, positions
  // m and v hold elements [moments_first, moments_first + m.numel()) of the tensor: all of it,
  // or under ZeRO-1 the shard whose optimizer step this device runs.
  std::int64_t moments_first = 0;
};

class WeightStore {
 public:
  // Initialisation depends only on (seed, weight name), per weight_shapes.h: N(0, 0.02) for
  // matrices, tables and positions (output projections smaller), gains 1, biases 0.
  // With `only`, just those weight groups (a device's share of the model); a TP shard's group
  // ("llm/layer3@1of4", tp_shards.h) holds that shard of each tensor, its values those of the
  // unsharded tensor's initialisation. Without `moments`, m and v stay empty for the caller to
  // allocate (a rank under ZeRO-1 keeps only its shard's).
  WeightStore(const Scenario& s, const Graph& g, Backend& backend, std::uint64_t seed,
              const std::set<std::string>* only = nullptr, bool moments = true);

  Param& at(const std::string& name);
  const Tensor& value(const std::string& name) { return at(name).value; }
  Tensor& grad(const std::string& name) { return at(name).grad; }
  std::map<std::string, Param>& params() { return params_; }
  const std::map<std::string, Param>& params() const { return params_; }
  // Elements of the tensors of one weight group ("vision/layer3").
  std::int64_t group_size(const std::string& group) const;
  std::int64_t total_size() const;

 private:
  std::map<std::string, Param> params_;  // sorted by name: the one order of the optimizer and checkpoints
  std::map<std::string, std::int64_t> groups_;
};

}  // namespace spindle::engine
