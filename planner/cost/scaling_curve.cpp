// The scaling curve: alpha-beta pieces (alpha_beta_fit.h) in work-per-device space, and monotone evaluation.
#include "planner/cost/scaling_curve.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "traces/errors.h"

namespace spindle {

const char* point_source_name(PointSource s) {
  switch (s) {
    case PointSource::kAnalytic: return "analytic";
    case PointSource::kMeasured: return "measured";
    case PointSource::kInterpolated: return "interpolated";
    case PointSource::kExtrapolated: return "extrapolated";
    case PointSource::kScaled: return "scaled";
  }
  return "?";
}

ScalingCurve::ScalingCurve(std::vector<CurvePoint> points, double batch, double tolerance)
    : points_(std::move(points)), batch_(batch) {
  if (points_.empty()) throw InternalError("scaling curve without points");
  std::sort(points_.begin(), points_.end(), [](const CurvePoint& a, const CurvePoint& b) { return a.n < b.n; });
  if (points_.front().n != 1) throw InternalError("scaling curve must include n = 1");
  for (const CurvePoint& p : points_)
    if (!(p.t_s > 0) || !std::isfinite(p.t_s)) throw InternalError("non-positive sampled time at n = " + std::to_string(p.n));

  // Monotone envelope over increasing work (decreasing n): T(n) = min over n' <= n of T(n').
  std::vector<FitSample> s;
  double running = std::numeric_limits<double>::infinity();
  for (const CurvePoint& p : points_) {
    running = std::min(running, p.t_s);
    s.push_back(FitSample{batch_ / p.n, running});
  }
  std::reverse(s.begin(), s.end());  // ascending w
  pieces_ = fit_alpha_beta(s, tolerance);
  later_min_.assign(pieces_.size(), std::numeric_limits<double>::infinity());
  for (size_t k = pieces_.size(); k-- > 1;) {
    const CurvePiece& p = pieces_[k];
    later_min_[k - 1] = std::min(later_min_[k], std::max(p.alpha + p.beta * p.w_from, 0.0));
  }
  t1_ = fitted(batch_);
  if (!(t1_ > 0)) t1_ = points_.front().t_s;
  // Fit error against the samples as the curve uses them (enveloped: a sample slower than a
  // smaller n is replaced by it, the extra devices idling).
  for (size_t i = 0; i < s.size(); ++i)
    fit_error_ = std::max(fit_error_, std::abs(fitted(s[i].x) - s[i].t) / s[i].t);
  for (const CurvePoint& p : points_)
    envelope_correction_ = std::max(envelope_correction_, (p.t_s - time_s(p.n)) / p.t_s);
}

double ScalingCurve::inverse_on_pieces(double t) const {
  const double w_min = batch_ / points_.back().n, w_max = batch_;
  // fitted() is non-decreasing in w: find the largest w in [w_min, w_max] it keeps <= t,
  // scanning the pieces from the most work per device down.
  for (size_t k = pieces_.size(); k-- > 0;) {
    const CurvePiece& p = pieces_[k];
    const double a = k == 0 ? w_min : std::max(p.w_from, w_min);
    const double b = k + 1 < pieces_.size() ? std::min(pieces_[k + 1].w_from, w_max) : w_max;
    if (a > b) continue;
    if (p.alpha + p.beta * a <= 0) return 0;  // T falls back to the samples here: bisect
    double w = -1;
    if (later_min_[k] <= t || (p.beta == 0 && p.alpha <= t))
      w = b;
    else if (p.beta > 0 && (t - p.alpha) / p.beta >= a)
      w = std::min((t - p.alpha) / p.beta, b);
    if (w > 0) return batch_ / w;
  }
  return std::numeric_limits<double>::infinity();
}

double ScalingCurve::fitted(double w) const {
  const size_t k = piece_at(pieces_, w);
  const CurvePiece& p = pieces_[k];
  return std::min(p.alpha + p.beta * w, later_min_[k]);
}

double ScalingCurve::time_s(double n) const {
  if (!(n > 0)) throw InternalError("T(n) asked for n = " + std::to_string(n));
  if (n < 1) return t1_ / n;  // time-sharing one device
  const double w = std::max(batch_ / n, batch_ / points_.back().n);  // beyond max_n devices idle
  double t = fitted(w);
  // Positive: a fitted piece may dip below zero far from its points; never below the
  // fastest sampled time at or above this work.
  if (!(t > 0)) {
    t = std::numeric_limits<double>::infinity();
    for (const CurvePoint& p : points_)
      if (batch_ / p.n >= w - 1e-12) t = std::min(t, p.t_s);
  }
  return std::min(t, t1_);
}

}  // namespace spindle
