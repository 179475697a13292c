// What a calibration profile gives the cost model. Whether it may be used at all: measured by
// the engine backend of the scenario's device, on a device whose reported name the device file
// lists, in its compute dtype (one line and exit code 2 otherwise). And an operator's time
// from it: measured at its key, interpolated between the shape's measured batches on their
// piecewise alpha-beta fit (alpha_beta_fit.h; spindle-calibrate --report prints the same fit),
// extrapolated beyond them, or nothing (the analytic model fills it in).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "planner/config/scenario.h"
#include "planner/cost/alpha_beta_fit.h"
#include "planner/cost/scaling_curve.h"
#include "traces/profile.h"

namespace spindle {

// Throws InputError naming the profile, what it was measured on and the scenario's device when
// `profile` does not fit `gpu` (see above). `scenario_file` names the scenario in the message.
void check_profile_device(const Profile& profile, const GpuSpec& gpu, const std::string& scenario_file);
// Whether `name` matches `pattern`, '*' standing for any run of characters.
bool name_matches(const std::string& pattern, const std::string& name);

// Relative tolerance of a batch curve's pieces (the scaling curves' 2%).
inline constexpr double kBatchFitTolerance = 0.02;

// One shape's measured times against the local batch: forward and backward fitted apart.
class BatchCurve {
 public:
  // `ascending`: measurements of one shape, ascending batch, at least one.
  explicit BatchCurve(const std::vector<const OpMeasurement*>& ascending, double tolerance = kBatchFitTolerance);

  struct Value {
    double fwd_ms = 0, bwd_ms = 0;
    PointSource source = PointSource::kAnalytic;
  };
  // Measured at a measured batch; between two measured batches of one piece its line, between
  // two pieces (or where a piece's line is not positive) the alpha-beta segment of the two
  // measured neighbours; below the smallest its time (a latency floor); above the largest the
  // last piece's line, or its time scaled by the batch where that piece has one point.
  Value at(std::int64_t batch) const;

  const std::vector<std::int64_t>& batches() const { return batches_; }
  const std::vector<double>& fwd_ms() const { return fwd_; }
  const std::vector<double>& bwd_ms() const { return bwd_; }
  const std::vector<CurvePiece>& fwd_pieces() const { return fwd_pieces_; }
  const std::vector<CurvePiece>& bwd_pieces() const { return bwd_pieces_; }
  // Max relative error of the fitted pieces at the measured batches (forward and backward).
  double fit_error() const;
  // Max relative error at each interior measured batch of the curve fitted without it: how
  // well batches between measured ones are predicted (0 with fewer than 3 batches).
  double leave_one_out_error() const;

 private:
  double value(const std::vector<double>& t, const std::vector<CurvePiece>& pieces, std::int64_t batch) const;
  // At b strictly between batches[i - 1] and batches[i].
  static double between(const std::vector<std::int64_t>& batches, const std::vector<double>& t,
                        const std::vector<CurvePiece>& pieces, size_t i, double b);

  std::vector<std::int64_t> batches_;
  std::vector<double> fwd_, bwd_;
  std::vector<CurvePiece> fwd_pieces_, bwd_pieces_;
  double tolerance_;
};

// The optimizer's kernels in a profile: kind kOptimizerKind, fp32 (master weights, whatever the
// compute dtype), shape [elements of one weight tensor, 1, 1]; fwd_ms is one AdamW step call on
// it, bwd_ms one sum of squares (the gradient norm's part). spindle-calibrate measures them; a
// step or grad-norm instruction costs its tensors x one call at their mean size.
inline constexpr const char* kOptimizerKind = "optimizer_step";
OpShapeKey optimizer_key(std::int64_t elements);

// The profile's operator times by key, with a curve per measured shape.
class ProfilePoints {
 public:
  explicit ProfilePoints(const Profile& profile);
  // Analytic (zeros) where the profile has no measurement of the key's shape.
  BatchCurve::Value at(const OpShapeKey& key) const;
  // Shapes (keys with batch 0) and their curves, in key order.
  const std::map<OpShapeKey, BatchCurve>& curves() const { return curves_; }

 private:
  std::map<OpShapeKey, BatchCurve> curves_;
};

}  // namespace spindle
