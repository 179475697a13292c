// What spindle-calibrate measures for a scenario: every operator shape the cost model samples
// (planner/cost/cost_model.h: shape_key at every TP degree and valid dp x tp of every MetaOp,
// the estimator's own enumeration), at the per-device batches a grid gives: by default the
// powers of two spanning the batches the estimator asks for (so that batches in between stay
// unmeasured, for checking), or exactly those batches, or a list. And the optimizer's kernels
// on weight tensors of 64 to 4^k elements, k <= 12 (planner/cost/profile_points.h, kOptimizerKind).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "planner/config/scenario.h"
#include "planner/graph/graph.h"
#include "planner/graph/metagraph.h"
#include "traces/profile.h"

namespace spindle::calibrate {

struct Grid {
  enum class Kind { kPow2, kAsked, kList };
  Kind kind = Kind::kPow2;
  std::vector<std::int64_t> batches;  // kList: ascending, unique, >= 1

  // "pow2", "asked" or "1,2,4,8"; InputError naming --grid and what is allowed.
  static Grid parse(const std::string& text);
  std::string str() const;
};

struct MeasureItem {
  OpShapeKey key;      // what the profile stores
  int op = 0;          // an operator of the graph with this shape: its weights and inputs (-1: the optimizer)
  bool asked = false;  // a key the estimator samples (else only a grid point)
};

// The largest weight tensor the optimizer is measured on (4^12 elements).
inline constexpr std::int64_t kLargestOptimizerTensor = std::int64_t{1} << 24;

struct MeasurePlan {
  std::vector<MeasureItem> items;  // operators, sorted by key, each key once
  std::vector<MeasureItem> optimizer;  // the optimizer's kernels, ascending tensor size (op -1)
  int estimator_keys = 0;          // the keys the estimator samples (measured or between measured ones)
};

// A contrastive loss is measured at batches up to its global batch (a larger grid batch becomes
// that one: it scores its rows against the whole batch).
MeasurePlan measure_plan(const Scenario& s, const Graph& g, const MetaGraph& mg, const Grid& grid,
                         const std::string& dtype);

}  // namespace spindle::calibrate
