// Weight creation and lookup (see weight_store.h).
#include "engine/model/weight_store.h"

#include <cmath>
#include <vector>

#include "engine/model/rng.h"
#include "engine/model/weight_shapes.h"
#include "traces/errors.h"

namespace spindle::engine {

WeightStore::WeightStore(const Scenario& s, const Graph& g, Backend& backend, std::uint64_t seed,
                         const std::set<std::string>* only) {
  std::map<std::string, std::string> created_by;  // group -> operator that created it
  for (const Operator& op : g.ops()) {
    if (op.weights.empty() || (only && !only->count(op.weights))) continue;
    const std::vector<WeightShape> shapes = weight_shapes(op);
    auto [it, fresh] = created_by.emplace(op.weights, op.name);
    if (!fresh) {  // a shared or tied group: every user must agree on its shapes
      for (const WeightShape& w : shapes) {
        const Param& p = params_.at(op.weights + "/" + w.name);
        if (p.value.shape() != w.dims)
          throw InputError(s.file + ": weights " + op.weights + "/" + w.name + " are " + dims_str(p.value.shape()) +
                           " for " + it->second + " but " + dims_str(w.dims) + " for " + op.name +
                           "; allowed: tied or shared components of equal widths");
      }
      continue;
    }
    const int layers = op.component >= 0 ? std::max(1, s.model.components[static_cast<size_t>(op.component)].layers) : 1;
    std::int64_t group_total = 0;
    for (const WeightShape& w : shapes) {
      const std::string name = op.weights + "/" + w.name;
      Param p;
      p.value = backend.alloc(w.dims);
      p.grad = backend.alloc(w.dims);
      p.m = backend.alloc(w.dims);
      p.v = backend.alloc(w.dims);
      p.decay = w.dims.size() >= 2 && w.name != "pos";
      std::vector<float> init(static_cast<size_t>(p.value.numel()));
      Rng rng(hash_mix(seed, hash_name(name)));
      const double std_dev = w.init == Init::kNormalResidual ? 0.02 / std::sqrt(2.0 * layers) : 0.02;
      for (float& x : init)
        x = w.init == Init::kOnes ? 1.0f : w.init == Init::kZeros ? 0.0f : static_cast<float>(std_dev * rng.normal());
      backend.upload(p.value, init);
      group_total += p.value.numel();
      params_.emplace(name, std::move(p));
    }
    groups_[op.weights] = group_total;
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
