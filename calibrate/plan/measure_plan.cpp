// The keys to measure (see measure_plan.h).
#include "calibrate/plan/measure_plan.h"

#include <algorithm>
#include <map>
#include <set>

#include "engine/model/weight_shapes.h"
#include "planner/cost/cost_model.h"
#include "traces/errors.h"

namespace spindle::calibrate {

Grid Grid::parse(const std::string& text) {
  Grid g;
  if (text == "pow2") return g;
  if (text == "asked") {
    g.kind = Kind::kAsked;
    return g;
  }
  g.kind = Kind::kList;
  const std::string allowed =
      "; allowed: pow2 (powers of two spanning the batches the estimator asks for), asked (exactly those) or a "
      "comma-separated list of per-device batches >= 1 such as 1,2,4,8";
  size_t at = 0;
  while (at <= text.size()) {
    const size_t end = std::min(text.find(',', at), text.size());
    const std::string part = text.substr(at, end - at);
    std::int64_t v = 0;
    bool ok = !part.empty() && part.size() <= 9;
    for (char ch : part) ok = ok && ch >= '0' && ch <= '9';
    if (ok) v = std::stoll(part);
    if (!ok || v < 1) throw InputError("--grid " + text + ": '" + part + "' is not a batch" + allowed);
    g.batches.push_back(v);
    at = end + 1;
  }
  std::sort(g.batches.begin(), g.batches.end());
  g.batches.erase(std::unique(g.batches.begin(), g.batches.end()), g.batches.end());
  return g;
}

std::string Grid::str() const {
  if (kind == Kind::kPow2) return "pow2";
  if (kind == Kind::kAsked) return "asked";
  std::string s;
  for (std::int64_t b : batches) s += (s.empty() ? "" : ",") + std::to_string(b);
  return s;
}

MeasurePlan measure_plan(const Scenario& s, const Graph& g, const MetaGraph& mg, const Grid& grid,
                         const std::string& dtype) {
  // The estimator's keys, grouped by shape (a key with batch 0), each with an operator.
  struct Shape {
    int op = 0;
    std::int64_t max_batch = 0;  // a contrastive loss's global batch; else unbounded (0)
    std::set<std::int64_t> asked;
  };
  std::map<OpShapeKey, Shape> shapes;
  for (const MetaOp& m : mg.metaops) {
    const Operator& op = g.op(m.ops.front());
    for (int tp : sampled_tp_degrees(s, op))
      for (const ParallelConfig& cfg : sampled_configs(s, m.shape.batch, tp)) {
        OpShapeKey key = shape_key(op, cfg, dtype);
        const std::int64_t batch = key.batch;
        key.batch = 0;
        Shape& sh = shapes[key];
        if (sh.asked.empty()) {
          sh.op = op.id;
          if (op.kind == OpKind::kContrastiveLoss) sh.max_batch = op.shape.batch;
        }
        sh.asked.insert(batch);
      }
  }
  MeasurePlan plan;
  std::vector<MeasureItem>& out = plan.items;
  for (const auto& [shape, sh] : shapes) {
    plan.estimator_keys += static_cast<int>(sh.asked.size());
    std::set<std::int64_t> batches;
    if (grid.kind == Grid::Kind::kAsked) {
      batches = sh.asked;
    } else if (grid.kind == Grid::Kind::kList) {
      batches.insert(grid.batches.begin(), grid.batches.end());
    } else {  // powers of two from at or below the smallest asked batch to at or above the largest
      std::int64_t b = 1;
      while (b * 2 <= *sh.asked.begin()) b *= 2;
      for (; b / 2 < *sh.asked.rbegin(); b *= 2) batches.insert(b);
    }
    for (std::int64_t listed : batches) {
      const std::int64_t b = sh.max_batch > 0 ? std::min(listed, sh.max_batch) : listed;
      if (!out.empty() && out.back().key.same_shape(shape) && out.back().key.batch == b) continue;
      MeasureItem item;
      item.key = shape;
      item.key.batch = b;
      item.op = sh.op;
      item.asked = sh.asked.count(b) > 0;
      out.push_back(item);
    }
  }
  // The optimizer's kernels (planner/cost/profile_points.h): a weight tensor of 4^k elements,
  // from 64 to the first at or above the scenario's largest weight tensor, at most 4^12 (16.8M
  // elements: four buffers of 64 MiB; larger tensors stream at the same rate, which the fit's
  // last piece extrapolates).
  std::int64_t largest = 1;
  for (const Operator& op : g.ops())
    for (const engine::WeightShape& w : engine::weight_shapes(op)) {
      std::int64_t elements = 1;
      for (std::int64_t d : w.dims) elements *= d;
      largest = std::max(largest, elements);
    }
  for (std::int64_t elements = 64;; elements *= 4) {
    MeasureItem item;
    item.key = optimizer_key(elements);
    item.op = -1;
    plan.optimizer.push_back(item);
    if (elements >= largest || elements >= kLargestOptimizerTensor) break;
  }
  return plan;  // items in map order, then ascending batch: sorted by key
}

}  // namespace spindle::calibrate
