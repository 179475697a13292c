// The one estimator behind the planner and the simulator: for every MetaOp, its time per
// operator T_m(n) at every valid device count (measured points from a calibration profile
// where they exist, the analytic kernel model elsewhere), fitted into Spindle's scalability
// curve, and its memory per device. Valid n: n divides the MetaOp's global batch (data
// parallelism) and n <= the cluster's GPUs.
#pragma once

#include <string>
#include <vector>

#include "planner/config/scenario.h"
#include "planner/cost/memory_model.h"
#include "planner/cost/parallel_config.h"
#include "planner/cost/scaling_curve.h"
#include "planner/graph/graph.h"
#include "planner/graph/metagraph.h"
#include "traces/profile.h"

namespace spindle {

struct MetaOpCost {
  ScalingCurve curve;
  bool zero1 = false;           // every point uses dp = n, tp = 1, and this
  double flops_only_t1_s = 0;   // (fwd + bwd FLOPs) / peak, for comparison
  double min_mem_GiB = 0;       // per device with all L layers at the largest valid n
  MemoryBreakdown mem_n1;       // per device with all L layers on one device
  int measured_points = 0;
};

// The profile key of `op` run on one device of `cfg` (its local shape).
OpShapeKey shape_key(const Operator& op, const ParallelConfig& cfg);

// Divisors of `batch` that are at most `max_devices`, ascending.
std::vector<int> valid_device_counts(std::int64_t batch, int max_devices);

class CostModel {
 public:
  // Throws InputError when a MetaOp cannot fit in GPU memory even spread over every GPU, or
  // when the profile was measured on another GPU.
  CostModel(const Scenario& s, const Graph& g, const MetaGraph& mg, const Profile* profile = nullptr);

  const MetaOpCost& metaop(int id) const { return costs_[static_cast<size_t>(id)]; }
  const std::vector<MetaOpCost>& metaops() const { return costs_; }
  // Profile keys the analytic model had to fill in (sorted, unique); empty without a profile.
  const std::vector<std::string>& filled_keys() const { return filled_; }
  int measured_points() const { return measured_; }
  bool has_profile() const { return has_profile_; }

 private:
  std::vector<MetaOpCost> costs_;
  std::vector<std::string> filled_;
  int measured_ = 0;
  bool has_profile_ = false;
};

}  // namespace spindle
