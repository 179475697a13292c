// Greedy piecewise alpha-beta fitting (see alpha_beta_fit.h).
#include "planner/cost/alpha_beta_fit.h"

#include <cmath>
#include <string>

#include "traces/errors.h"

namespace spindle {
namespace {

// Least squares of relative error, t ~ alpha + beta x, with beta >= 0.
CurvePiece fit_segment(const std::vector<FitSample>& s, size_t from, size_t to) {
  double sw = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (size_t i = from; i <= to; ++i) {
    const double wt = 1.0 / (s[i].t * s[i].t);
    sw += wt;
    sx += wt * s[i].x;
    sy += wt * s[i].t;
    sxx += wt * s[i].x * s[i].x;
    sxy += wt * s[i].x * s[i].t;
  }
  CurvePiece p;
  p.w_from = s[from].x;
  const double det = sw * sxx - sx * sx;
  if (to > from && det > 1e-12 * sw * sxx) {
    p.beta = (sw * sxy - sx * sy) / det;
    p.alpha = (sy - p.beta * sx) / sw;
  }
  if (to == from || !(det > 1e-12 * sw * sxx) || p.beta < 0) {
    p.beta = 0;
    p.alpha = sy / sw;
  }
  return p;
}

double max_rel_error(const std::vector<FitSample>& s, size_t from, size_t to, const CurvePiece& p) {
  double e = 0;
  for (size_t i = from; i <= to; ++i) e = std::max(e, std::abs(p.alpha + p.beta * s[i].x - s[i].t) / s[i].t);
  return e;
}

}  // namespace

std::vector<CurvePiece> fit_alpha_beta(const std::vector<FitSample>& s, double tolerance) {
  if (s.empty()) throw InternalError("alpha-beta fit without samples");
  for (size_t i = 0; i < s.size(); ++i)
    if (!(s[i].t > 0) || !std::isfinite(s[i].t) || (i > 0 && !(s[i].x >= s[i - 1].x)))
      throw InternalError("alpha-beta fit of sample " + std::to_string(i) + " (x " + std::to_string(s[i].x) + ", t " +
                          std::to_string(s[i].t) + "): times must be positive and x ascending");
  std::vector<CurvePiece> pieces;
  size_t from = 0;
  while (from < s.size()) {
    size_t to = from;
    CurvePiece best = fit_segment(s, from, from);
    while (to + 1 < s.size()) {
      CurvePiece next = fit_segment(s, from, to + 1);
      if (max_rel_error(s, from, to + 1, next) > tolerance) break;
      best = next;
      ++to;
    }
    pieces.push_back(best);
    from = to + 1;
  }
  return pieces;
}

std::size_t piece_at(const std::vector<CurvePiece>& pieces, double x) {
  size_t k = 0;
  while (k + 1 < pieces.size() && pieces[k + 1].w_from <= x) ++k;
  return k;
}

double piece_value(const std::vector<CurvePiece>& pieces, double x) {
  if (pieces.empty()) throw InternalError("alpha-beta curve without pieces");
  const CurvePiece& p = pieces[piece_at(pieces, x)];
  return p.alpha + p.beta * x;
}

}  // namespace spindle
