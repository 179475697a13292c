// The analytic model fitted to a profile, for the shapes a profile never measured. The
// analytic model splits an operator into kernels (op_time.h), each a fixed launch cost plus
// its variable time at the device file's assumed rates (max of compute and memory time; a
// GEMM's small-size floor left out). Per operator kind, forward and backward apart, the
// profile's times are fitted as
//   seconds = per_kernel_s x kernels + factor x the kernels' variable time
// (non-negative least squares on the relative error; where both terms cannot be positive, the
// better single one). A key of that kind missing from the profile then costs that ("scaled");
// a kind the profile has fewer than kMinFitShapes shapes of stays analytic (one shape's
// batches say nothing of how the time follows the widths). The device file's fixed costs and rates
// are assumptions: on the CPU host its 5 us GEMM floor makes small shapes several times too
// slow, so no factor on the whole analytic time fits both small and large shapes there; the
// relative rates of GEMMs, attention and memory-bound kernels stay the file's.
#pragma once

#include <array>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "planner/config/scenario.h"
#include "planner/cost/op_time.h"
#include "planner/cost/parallel_config.h"
#include "planner/graph/graph.h"
#include "traces/profile.h"

namespace spindle {

// What the fit charges for: kernels, and their variable time at the device file's rates.
inline constexpr size_t kKernelTerms = 2;
// Shapes of a kind (keys but for the batch) a profile needs for its fit to be used.
inline constexpr size_t kMinFitShapes = 2;
using KernelTerms = std::array<double, kKernelTerms>;
// The terms of `op` on one device of `cfg` on `gpu`, forward and backward.
std::pair<KernelTerms, KernelTerms> kernel_terms(const Operator& op, const ParallelConfig& cfg, const GpuSpec& gpu);

struct KernelFit {
  KernelTerms seconds_per{};  // seconds per kernel, seconds per analytic second; 0: term unused
  int points = 0;
  double max_error = 0;       // largest relative error at the profile's points
  double at(const KernelTerms& terms) const;
  // Fits `measured_s` (positive) against the terms of the same points (at least one).
  static KernelFit fit(const std::vector<KernelTerms>& terms, const std::vector<double>& measured_s);
};

struct KindFit {
  KernelFit fwd, bwd;
  OpTime time(const Operator& op, const ParallelConfig& cfg, const GpuSpec& gpu) const;
};

// The operator and configuration whose shape_key (cost_model.h) is `key`: its kind, shape and
// local batch (dp = 1; a contrastive loss scores key.batch rows of a global batch key.out_seq)
// and TP degree; nullopt for a kind no operator has, or a loss whose rows do not divide its batch.
std::optional<std::pair<Operator, ParallelConfig>> operator_of(const OpShapeKey& key);

class AnalyticFits {
 public:
  // The profile's operator rows in `dtype` (the device's compute dtype).
  AnalyticFits(const Profile& profile, const GpuSpec& gpu);
  // nullptr where the profile has no point of `kind`.
  const KindFit* of(const std::string& kind) const;
  const std::map<std::string, KindFit>& kinds() const { return fits_; }

 private:
  std::map<std::string, KindFit> fits_;
};

}  // namespace spindle
