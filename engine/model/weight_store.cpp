// Weight creation and lookup (see weight_store.h).
#include "engine/model/weight_store.h"

#include <cmath>
#include <vector>

#include "engine/model/rng.h"
#include "engine/model/tp_shards.h"
#include "engine/model/weight_shapes.h"
#include "traces/errors.h"

namespace spindle::engine {

namespace {

// The store groups `only` asks for of operator group `weights`: the whole group, and any of its
// TP shards ("<weights>@<j>of<t>"); everything when `only` is null.
std::vector<std::string> wanted(const std::string& weights, const std::set<std::string>* only) {
  if (!only) return {weights};
  std::vector<std::string> v;
  if (only->count(weights)) v.push_back(weights);
  for (auto it = only->lower_bound(weights + "@"); it != only->end() && it->starts_with(weights + "@"); ++it)
    v.push_back(*it);
  return v;
}

}  // namespace

WeightStore::WeightStore(const Scenario& s, const Graph& g, Backend& backend, std::uint64_t seed,
                         const std::set<std::string>* only, bool moments) {
  std::map<std::string, std::string> created_by;  // group -> operator that created it
  for (const Operator& op : g.ops()) {
    if (op.weights.empty()) continue;
    const std::vector<std::string> groups = wanted(op.weights, only);
    if (groups.empty()) continue;
    const std::vector<WeightShape> shapes = weight_shapes(op);
    auto [it, fresh] = created_by.emplace(op.weights, op.name);
    if (!fresh) {  // a shared or tied group: every user must agree on its shapes
      for (const std::string& group : groups)
        for (const WeightShape& w : shapes) {
          const ShardedName sn = parse_sharded(group + "/" + w.name);
          const Param& p = params_.at(group + "/" + w.name);
          if (p.value.shape() != shard_dims(w.dims, tp_split(w.name), sn.of))
            throw InputError(s.file + ": weights " + op.weights + "/" + w.name + " are " + dims_str(p.value.shape()) +
                             " for " + it->second + " but " + dims_str(w.dims) + " for " + op.name +
                             "; allowed: tied or shared components of equal widths");
        }
      continue;
    }
    const int layers = op.component >= 0 ? std::max(1, s.model.components[static_cast<size_t>(op.component)].layers) : 1;
    for (const std::string& group : groups) {
      std::int64_t group_total = 0;
      for (const WeightShape& w : shapes) {
        const std::string name = group + "/" + w.name;
        const ShardedName sn = parse_sharded(name);
        const TpSplit split = tp_split(w.name);
        const Dims dims = shard_dims(w.dims, split, sn.of);
        Param p;
        {
          MemPartScope part(MemPart::kWeights);
          p.value = backend.alloc(dims);
        }
        {
          MemPartScope part(MemPart::kGrads);
          p.grad = backend.alloc(dims);
        }
        if (moments) {
          MemPartScope part(MemPart::kOptimizer);
          p.m = backend.alloc(dims);
          p.v = backend.alloc(dims);
        }
        p.decay = w.dims.size() >= 2 && w.name != "pos";
        // The unsharded tensor's values (seeded by its name), then the shard's part of them.
        std::int64_t full_numel = 1;
        for (std::int64_t d : w.dims) full_numel *= d;
        std::vector<float> init(static_cast<size_t>(full_numel));
        Rng rng(hash_mix(seed, hash_name(sn.unsharded())));
        const double std_dev = w.init == Init::kNormalResidual ? 0.02 / std::sqrt(2.0 * layers) : 0.02;
        for (float& x : init)
          x = w.init == Init::kOnes ? 1.0f : w.init == Init::kZeros ? 0.0f : static_cast<float>(std_dev * rng.normal());
        if (sn.of > 1) init = shard_values(init, w.dims, split, sn.shard, sn.of);
        backend.upload(p.value, init);
        group_total += p.value.numel();
        params_.emplace(name, std::move(p));
      }
      groups_[group] = group_total;
    }
  }
}

Param& WeightStore::at(const std::string& name) {
  auto it = params_.find(name);
  if (it == params_.end()) throw InternalError("no weight named " + name);
  return it->second;
}

std::int64_t WeightStore::group_size(const std::string& group) const {
  auto it = groups_.find(group);
  return it == groups_.end() ? 0 : it->second;
}

std::int64_t WeightStore::total_size() const {
  std::int64_t n = 0;
  for (const auto& [name, p] : params_) n += p.value.numel();
  return n;
}

}  // namespace spindle::engine
