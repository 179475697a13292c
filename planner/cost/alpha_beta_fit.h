// Spindle's piecewise alpha-beta fit, t = alpha + beta x on each piece: the fewest pieces,
// grown greedily over ascending x, each the least-squares line (in relative error, beta >= 0)
// of its samples, within a relative tolerance. Scaling curves fit it in work per device
// (scaling_curve.h); measured operator times in the local batch (profile_points.h,
// spindle-calibrate --report).
#pragma once

#include <cstddef>
#include <vector>

namespace spindle {

struct CurvePiece {
  double w_from = 0;  // first sampled x this piece covers (work per device, or local batch)
  double alpha = 0;
  double beta = 0;    // >= 0: more work per device never takes less time
};

struct FitSample {
  double x = 0;
  double t = 0;  // > 0
};

// `samples` ascending in x, times > 0 (InternalError otherwise); at least one.
std::vector<CurvePiece> fit_alpha_beta(const std::vector<FitSample>& samples, double tolerance);

// The value of the piece covering x: the last one starting at or before x (the first below).
double piece_value(const std::vector<CurvePiece>& pieces, double x);
// Index of that piece.
std::size_t piece_at(const std::vector<CurvePiece>& pieces, double x);

}  // namespace spindle
