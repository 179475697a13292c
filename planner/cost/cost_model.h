// The one estimator behind the planner and the simulator: for every MetaOp, its time per
// operator T_m(n) at every valid device count (measured points from a calibration profile
// where they exist, the analytic kernel model elsewhere), fitted into Spindle's scalability
// curve, and its memory per device. Valid n = dp x tp: dp divides the MetaOp's global batch,
// tp is its component's TP degree (the layout: one per component, tensor_parallel.h; 1 for
// operators that do not split) and n <= the cluster's GPUs. Every TP degree the cluster and
// the operator allow is costed; set_layout() picks which one each component uses.
#pragma once

#include <array>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "planner/config/scenario.h"
#include "planner/cost/analytic_fit.h"
#include "planner/cost/memory_model.h"
#include "planner/cost/parallel_config.h"
#include "planner/cost/profile_points.h"
#include "planner/cost/scaling_curve.h"
#include "planner/graph/graph.h"
#include "planner/graph/metagraph.h"
#include "traces/profile.h"

namespace spindle {

struct MetaOpCost {
  ScalingCurve curve;
  int tp = 1;                   // every point uses dp = n / tp, this tp, and
  bool zero1 = false;           // this
  double flops_only_t1_s = 0;   // (fwd + bwd FLOPs) / peak, for comparison
  double min_mem_GiB = 0;       // per device with all L layers at the largest valid n
  MemoryBreakdown mem_n1;       // per device with all L layers on one device
  int measured_points = 0;           // taken from the profile (measured, interpolated or extrapolated)
  std::vector<std::string> filled;  // profile keys of its points the analytic model filled in
};

// The profile key of `op` run on one device of `cfg` (its local shape), in `dtype` (the
// device's compute_dtype).
OpShapeKey shape_key(const Operator& op, const ParallelConfig& cfg, const std::string& dtype);

// Divisors of `batch` that are at most `max_devices`, ascending.
std::vector<int> valid_device_counts(std::int64_t batch, int max_devices);

// What the estimator samples, so that spindle-calibrate measures exactly those keys: the TP
// degrees an operator is costed at on the scenario's cluster (before the memory check), and
// for one degree the configurations of a MetaOp of global batch `batch` (below tp devices
// the shards nest: tp = 1, 2, ... < tp on one group; then dp x tp for every valid dp).
std::vector<int> sampled_tp_degrees(const Scenario& s, const Operator& op);
std::vector<ParallelConfig> sampled_configs(const Scenario& s, std::int64_t batch, int tp);

// Where a MetaOp's samples (current layout) came from, per operator kind: measured,
// interpolated, extrapolated and analytic counts (indexed by PointSource: analytic first).
using SourceCounts = std::map<std::string, std::array<int, kPointSources>>;

class CostModel {
 public:
  // Throws InputError when a MetaOp cannot fit in GPU memory even spread over every GPU, or
  // when the profile was measured on another GPU.
  CostModel(const Scenario& s, const Graph& g, const MetaGraph& mg, const Profile* profile = nullptr);

  // The MetaOp's cost under the current layout.
  const MetaOpCost& metaop(int id) const { return costs_[static_cast<size_t>(id)]; }
  const std::vector<MetaOpCost>& metaops() const { return costs_; }

  // Tensor-parallel layout: component (weight set) -> TP degree, for components whose
  // operators split. Starts at the smallest degree each component fits memory with.
  const std::map<std::string, int>& layout() const { return layout_; }
  // Whether every configuration shards optimizer state over its sync group (ZeRO-1).
  bool zero1() const { return zero1_; }
  // The degrees a component can use: allowed by the cluster, planner.max_tp and every one of
  // its operators, and fitting memory; ascending.
  std::vector<int> tp_options(const std::string& component) const;
  // Switches components to other degrees (each among its tp_options; InternalError otherwise).
  void set_layout(const std::map<std::string, int>& layout);
  // A copy with `layout` (components it does not name keep this one's degree); InternalError
  // where a degree is not among the component's options.
  CostModel with_layout(const std::map<std::string, int>& layout) const;
  // "" when every degree of `layout` is among its component's options; otherwise why not.
  std::string layout_problem(const std::map<std::string, int>& layout) const;
  // The sample of `metaop` on n devices at TP degree tp, under any layout; nullptr if none.
  const CurvePoint* point(int metaop, int n, int tp) const;
  // Profile keys the analytic model had to fill in for the current layout's configurations
  // (sorted, unique); empty without a profile.
  const std::vector<std::string>& filled_keys() const { return filled_; }
  int measured_points() const { return measured_; }
  bool has_profile() const { return has_profile_; }
  // Per operator kind, the current layout's samples by source (empty without a profile).
  const SourceCounts& source_counts() const { return sources_; }
  // The optimizer's kernel times from the profile (profile_points.h, kOptimizerKind); nullptr
  // when it has none (the analytic model: traffic at HBM speed and a launch per tensor).
  const BatchCurve* optimizer_curve() const { return optimizer_ ? &*optimizer_ : nullptr; }
  // The analytic model fitted to the profile per operator kind (analytic_fit.h), which costs
  // the keys the profile lacks; nullptr without a profile.
  const AnalyticFits* analytic_fits() const { return fits_ ? &*fits_ : nullptr; }

 private:
  std::vector<MetaOpCost> costs_;
  std::vector<std::map<int, MetaOpCost>> options_;  // per MetaOp: TP degree -> its cost
  std::vector<std::string> component_of_;           // per MetaOp: its weight set when it splits, else ""
  std::map<std::string, int> layout_;
  std::vector<std::string> filled_;
  std::vector<std::string> kind_of_;  // per MetaOp: its operator kind's name
  SourceCounts sources_;
  int measured_ = 0;
  bool has_profile_ = false;
  bool zero1_ = false;
  std::optional<BatchCurve> optimizer_;
  std::optional<AnalyticFits> fits_;
};

}  // namespace spindle
