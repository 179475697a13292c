// Spindle's scalability curve T_m(n) of one MetaOp: sampled times at the valid device counts,
// a piecewise alpha-beta fit t = alpha + beta * w in the work per device w = batch / n (a new
// piece where the regime changes), and an evaluation for any real n that is positive and
// non-increasing (more devices may stay idle, so never slower; below one device T(1)/n).
#pragma once

#include <vector>

#include "planner/cost/alpha_beta_fit.h"

namespace spindle {

// Where a sampled time came from: the analytic model, or a calibration profile
// (profile_points.h): measured at the key, interpolated between measured batches of the shape,
// or extrapolated beyond them.
// kScaled: the analytic model fitted to the profile's points of the operator's kind (analytic_fit.h).
enum class PointSource { kAnalytic, kMeasured, kInterpolated, kExtrapolated, kScaled };
inline constexpr size_t kPointSources = 5;
const char* point_source_name(PointSource s);  // "analytic", "measured", ...

struct CurvePoint {
  int n = 0;
  double t_s = 0;    // sampled time of one operator: forward + backward compute + TP all-reduces
  double fwd_s = 0;  // compute only
  double bwd_s = 0;
  bool measured = false;  // from a profile rather than the analytic model
  double mem_GiB = 0;     // per device, the whole MetaOp on these n devices
  int tp = 1;             // n = dp x tp
  double tp_comm_s = 0;   // the TP group's activation all-reduces, forward and backward
  PointSource source = PointSource::kAnalytic;
};

class ScalingCurve {
 public:
  ScalingCurve() = default;
  // Fits `points` (valid n, any order) for a MetaOp of global batch `batch`: the fewest
  // pieces (chosen greedily over increasing work) whose fit is within `tolerance` relative
  // error of the monotone envelope of the samples.
  ScalingCurve(std::vector<CurvePoint> points, double batch, double tolerance = 0.02);

  // T(n) for real n > 0 (seconds per operator).
  double time_s(double n) const;
  // inf { n in [1, max_n] : T(n) <= t } solved on the fitted pieces, for t < T(1); 0 when
  // the pieces cannot answer exactly (a piece that reaches zero: callers bisect instead),
  // +infinity when even max_n is slower than t.
  double inverse_on_pieces(double t) const;
  const std::vector<CurvePoint>& points() const { return points_; }  // ascending n
  const std::vector<CurvePiece>& pieces() const { return pieces_; }  // ascending w
  // Max relative error of the fit at the sampled points, after the monotone envelope.
  double fit_error() const { return fit_error_; }
  int max_n() const { return points_.empty() ? 0 : points_.back().n; }
  // Largest relative amount by which a sample was slower than the curve's T at its n (the
  // envelope: extra devices idle rather than slow the MetaOp down); 0 when none was.
  double envelope_correction() const { return envelope_correction_; }

 private:
  double fitted(double w) const;  // piecewise value with the suffix-minimum envelope

  std::vector<CurvePoint> points_;
  std::vector<CurvePiece> pieces_;
  std::vector<double> later_min_;  // min over pieces after k of their start values
  double batch_ = 0;
  double t1_ = 0;
  double fit_error_ = 0;
  double envelope_correction_ = 0;
};

}  // namespace spindle
