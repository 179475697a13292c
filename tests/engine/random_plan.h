// A seeded generator of random valid placed plans, to exercise the executor beyond what the
// planners produce: every MetaOp's layers cut into 1-3 slices (a MetaOp split across waves),
// each slice on a random valid device count (a divisor of the batch: with batch 12, splits of
// 2, 3, 4 and 6 re-shard unevenly between slices) and on random devices in random order (so
// weights shared by tasks sync across different device groups), started as soon as its
// inputs and its devices are ready; timed by the cost model so check_plan accepts it. With
// `tensor_parallel`, every component that splits takes a random degree among its options (the
// plan's TP layout): its slices run dp x tp, or nested shards on fewer devices than the degree,
// each TP group's devices ascending (as placement keeps them).
#pragma once

#include <algorithm>
#include <map>
#include <string>
#include <numeric>
#include <random>
#include <vector>

#include "planner/cost/cost_model.h"
#include "planner/schedule/plan.h"

namespace spindle::engine::test {

inline Plan random_plan(const MetaGraph& mg, const CostModel& base, int gpus, std::uint64_t seed,
                        bool tensor_parallel = false) {
  std::mt19937_64 rng(seed);
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  Plan plan;
  plan.system = "random-" + std::to_string(seed);
  plan.gpus = gpus;
  std::map<std::string, int> layout = base.layout();
  if (tensor_parallel)
    for (auto& [component, tp] : layout) {
      const std::vector<int> options = base.tp_options(component);
      tp = options[static_cast<size_t>(pick(0, static_cast<int>(options.size()) - 1))];
    }
  const CostModel cost = base.with_layout(layout);
  plan.tp = cost.layout();
  plan.zero1 = cost.zero1();
  std::vector<double> device_free(static_cast<size_t>(gpus), 0.0), metaop_end(mg.metaops.size(), 0.0);
  for (const MetaOp& m : mg.metaops) {  // ordered by level: predecessors first
    double ready = 0;
    for (int p : m.preds) ready = std::max(ready, metaop_end[static_cast<size_t>(p)]);
    const int pieces = pick(1, std::min(m.L, 3));
    std::vector<int> cuts{0, m.L};
    while (static_cast<int>(cuts.size()) < pieces + 1) {
      const int c = pick(1, m.L - 1);
      if (std::find(cuts.begin(), cuts.end(), c) == cuts.end()) cuts.push_back(c);
    }
    std::sort(cuts.begin(), cuts.end());
    const MetaOpCost& mc = cost.metaop(m.id);
    std::vector<int> counts;
    for (const CurvePoint& pt : mc.curve.points()) counts.push_back(pt.n);
    for (size_t k = 0; k + 1 < cuts.size(); ++k) {
      Slice sl;
      sl.metaop = m.id;
      sl.first_layer = cuts[k];
      sl.last_layer = cuts[k + 1];
      sl.n = counts[static_cast<size_t>(pick(0, static_cast<int>(counts.size()) - 1))];
      std::vector<int> all(static_cast<size_t>(gpus));
      std::iota(all.begin(), all.end(), 0);
      std::shuffle(all.begin(), all.end(), rng);
      sl.devices.assign(all.begin(), all.begin() + sl.n);
      sl.tp = slice_tp(sl.n, mc.tp);
      for (int at = 0; at < sl.n; at += sl.tp) std::sort(sl.devices.begin() + at, sl.devices.begin() + at + sl.tp);
      sl.start_s = ready;
      for (int d : sl.devices) sl.start_s = std::max(sl.start_s, device_free[static_cast<size_t>(d)]);
      sl.end_s = sl.start_s + sl.layers() * cost.metaop(m.id).curve.time_s(sl.n);
      for (int d : sl.devices) device_free[static_cast<size_t>(d)] = sl.end_s;
      ready = sl.end_s;
      plan.waves.push_back(Wave{sl.start_s, sl.end_s, {sl}});
    }
    metaop_end[static_cast<size_t>(m.id)] = ready;
  }
  plan.finish();
  return plan;
}

}  // namespace spindle::engine::test
