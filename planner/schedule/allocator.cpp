// C* by bisection on sum_m T_m^-1(C/L_m) = N, then bi-point discretisation (Spindle paper, arXiv 2409.03365).
#include "planner/schedule/allocator.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "traces/errors.h"

namespace spindle {

double inverse_time(const ScalingCurve& curve, double t) {
  const double t1 = curve.time_s(1);
  if (t >= t1) return t1 / t;
  const double n_max = curve.max_n();
  if (curve.time_s(n_max) > t) return std::numeric_limits<double>::infinity();
  // Solved on the fitted pieces when they can answer, checked against T itself.
  const double n = curve.inverse_on_pieces(t);
  if (n >= 1 && n <= n_max && curve.time_s(std::min(n * (1 + 1e-12), n_max)) <= t &&
      (n <= 1 || curve.time_s(n * (1 - 1e-9)) > t))
    return n;
  double lo = 1, hi = n_max;  // T(lo) > t >= T(hi)
  for (int i = 0; i < 100 && hi - lo > 1e-13 * hi; ++i) {
    const double mid = 0.5 * (lo + hi);
    (curve.time_s(mid) <= t ? hi : lo) = mid;
  }
  return hi;
}

namespace {

double demand(const std::vector<LevelItem>& items, double c) {
  double sum = 0;
  for (const LevelItem& it : items) sum += inverse_time(*it.curve, c / it.L);
  return sum;
}

// Splits `item`'s layers between the valid counts around n*, larger count first.
void discretise(const LevelItem& item, double n_star, double cstar, std::vector<Piece>& out) {
  if (n_star <= 1 + 1e-9) {
    out.push_back(Piece{item.metaop, 0, item.L, 1});
    return;
  }
  int lo = item.valid_n.front(), hi = item.valid_n.back();
  for (int v : item.valid_n) {
    if (v <= n_star + 1e-9) lo = v;
  }
  for (auto it = item.valid_n.rbegin(); it != item.valid_n.rend(); ++it)
    if (*it >= n_star - 1e-9) hi = *it;
  if (hi < lo) hi = lo;
  if (lo == hi) {
    out.push_back(Piece{item.metaop, 0, item.L, lo});
    return;
  }
  const double t_lo = item.curve->time_s(lo), t_hi = item.curve->time_s(hi);
  int l_hi = item.L;
  if (t_lo > t_hi) {
    const double exact = (t_lo * item.L - cstar) / (t_lo - t_hi);
    l_hi = static_cast<int>(std::lround(std::clamp(exact, 0.0, static_cast<double>(item.L))));
  }
  const int l_lo = item.L - l_hi;
  if (l_hi > 0) out.push_back(Piece{item.metaop, 0, l_hi, hi});
  if (l_lo > 0) out.push_back(Piece{item.metaop, l_hi, l_lo, lo});
}

}  // namespace

LevelAllocation allocate_level(const std::vector<LevelItem>& items, int gpus) {
  if (items.empty()) throw InternalError("empty MetaLevel");
  LevelAllocation a;
  double lo = 0, hi = 0, max_devices = 0;
  for (const LevelItem& it : items) {
    lo = std::max(lo, it.L * it.curve->time_s(it.curve->max_n()));
    hi += it.L * it.curve->time_s(1);
    max_devices += it.curve->max_n();
  }
  if (max_devices <= gpus) {
    a.cstar_s = lo;  // every MetaOp saturated: the slowest at its largest useful count
  } else {
    if (demand(items, lo) <= gpus) {
      hi = lo;
    } else {
      for (int i = 0; i < 200 && hi - lo > 1e-12 * hi; ++i) {
        const double mid = 0.5 * (lo + hi);
        (demand(items, mid) <= gpus ? hi : lo) = mid;
      }
    }
    a.cstar_s = hi;
  }
  for (const LevelItem& it : items) {
    const double n = std::min(inverse_time(*it.curve, a.cstar_s / it.L), static_cast<double>(it.curve->max_n()));
    a.n_star.push_back(n);
    discretise(it, n, a.cstar_s, a.pieces);
  }
  return a;
}

namespace {

// Lower convex hull of (rate, devices) points from the origin, as increasing rates.
std::vector<std::pair<double, double>> rate_hull(const LevelItem& it) {
  std::vector<std::pair<double, double>> pts = {{0.0, 0.0}};
  for (int n : it.valid_n) pts.push_back({1.0 / it.curve->time_s(n), static_cast<double>(n)});
  std::sort(pts.begin(), pts.end());
  std::vector<std::pair<double, double>> hull;
  for (const auto& p : pts) {
    while (hull.size() >= 2) {
      const auto& a = hull[hull.size() - 2];
      const auto& b = hull.back();
      // Drop b if it lies on or above the segment a -> p.
      if ((b.second - a.second) * (p.first - a.first) >= (p.second - a.second) * (b.first - a.first)) hull.pop_back();
      else break;
    }
    hull.push_back(p);
  }
  return hull;
}

// Devices needed for `rate` on the hull; +infinity beyond the fastest point.
double hull_devices(const std::vector<std::pair<double, double>>& hull, double rate) {
  if (rate > hull.back().first * (1 + 1e-12)) return std::numeric_limits<double>::infinity();
  for (size_t i = 1; i < hull.size(); ++i)
    if (rate <= hull[i].first) {
      const auto& a = hull[i - 1];
      const auto& b = hull[i];
      return a.second + (b.second - a.second) * (rate - a.first) / (b.first - a.first);
    }
  return hull.back().second;
}

}  // namespace

double valid_count_cstar(const std::vector<LevelItem>& items, int gpus) {
  std::vector<std::vector<std::pair<double, double>>> hulls;
  double lo = 0, hi = 0;
  for (const LevelItem& it : items) {
    hulls.push_back(rate_hull(it));
    lo = std::max(lo, it.L / hulls.back().back().first);  // every MetaOp at its fastest
    hi += it.L * it.curve->time_s(1);                     // one device, one after another
  }
  auto devices = [&](double c) {
    double sum = 0;
    for (size_t i = 0; i < items.size(); ++i) sum += hull_devices(hulls[i], items[i].L / c);
    return sum;
  };
  if (devices(lo) <= gpus) return lo;
  for (int i = 0; i < 200 && hi - lo > 1e-12 * hi; ++i) {
    const double mid = 0.5 * (lo + hi);
    (devices(mid) <= gpus ? hi : lo) = mid;
  }
  return hi;
}

}  // namespace spindle
