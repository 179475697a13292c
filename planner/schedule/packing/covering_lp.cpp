// Dual simplex on a dense tableau and depth-first branch and bound (see covering_lp.h).
#include "planner/schedule/packing/covering_lp.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>

#include "traces/errors.h"

namespace spindle {
namespace {

constexpr double kPivotTol = 1e-9;
constexpr double kFeasTol = 1e-9;

// The program in tableau form: basic variables + T x_nonbasic = beta, reduced costs d.
// Columns: the structural ones (shifted by their lower bounds), then one surplus or slack
// per row: covering rows, upper-bound rows, and the bound rows branching adds.
struct Tableau {
  int rows = 0;
  int cols = 0;
  std::vector<double> t;  // rows x cols, row-major
  std::vector<double> beta;
  std::vector<double> d;
  std::vector<int> basic;
  double* row(int r) { return t.data() + static_cast<size_t>(r) * static_cast<size_t>(cols); }
};

void pivot(Tableau& tab, int r, int q) {
  double* pr = tab.row(r);
  const double inv = 1.0 / pr[q];
  for (int j = 0; j < tab.cols; ++j) pr[j] *= inv;
  tab.beta[static_cast<size_t>(r)] *= inv;
  pr[q] = 1.0;
  for (int i = 0; i < tab.rows; ++i) {
    if (i == r) continue;
    double* pi = tab.row(i);
    const double f = pi[q];
    if (f == 0) continue;
    for (int j = 0; j < tab.cols; ++j) pi[j] -= f * pr[j];
    pi[q] = 0.0;
    tab.beta[static_cast<size_t>(i)] -= f * tab.beta[static_cast<size_t>(r)];
  }
  const double f = tab.d[static_cast<size_t>(q)];
  if (f != 0) {
    for (int j = 0; j < tab.cols; ++j) tab.d[static_cast<size_t>(j)] -= f * pr[j];
    tab.d[static_cast<size_t>(q)] = 0.0;
  }
  tab.basic[static_cast<size_t>(r)] = q;
}

// Runs the dual simplex. The leaving row is the most infeasible one; among entering columns
// with the least ratio (within a relative tolerance) the one with the largest pivot, the
// lowest index on ties. With `bland`, the lowest basic variable leaves and the lowest index
// enters among the least ratios: Bland's rule, which cannot cycle.
LpStatus dual_simplex(Tableau& tab, bool bland, long limit) {
  std::vector<char> is_basic(static_cast<size_t>(tab.cols), 0);
  for (int b : tab.basic) is_basic[static_cast<size_t>(b)] = 1;
  for (long it = 0; it < limit; ++it) {
    int r = -1;
    for (int i = 0; i < tab.rows; ++i) {
      const double b = tab.beta[static_cast<size_t>(i)];
      if (b >= -kFeasTol) continue;
      if (r < 0 || (bland ? tab.basic[static_cast<size_t>(i)] < tab.basic[static_cast<size_t>(r)]
                          : b < tab.beta[static_cast<size_t>(r)]))
        r = i;
    }
    if (r < 0) return LpStatus::kOptimal;
    const double* pr = tab.row(r);
    double row_max = 0;
    for (int j = 0; j < tab.cols; ++j) row_max = std::max(row_max, std::abs(pr[j]));
    const double pivot_tol = kPivotTol * std::max(row_max, 1.0);
    double best = std::numeric_limits<double>::infinity();
    for (int j = 0; j < tab.cols; ++j) {
      if (is_basic[static_cast<size_t>(j)] || pr[j] >= -pivot_tol) continue;
      best = std::min(best, std::max(tab.d[static_cast<size_t>(j)], 0.0) / -pr[j]);
    }
    int q = -1;
    const double within = best * (1 + 1e-9) + 1e-15;
    for (int j = 0; j < tab.cols; ++j) {
      if (is_basic[static_cast<size_t>(j)] || pr[j] >= -pivot_tol) continue;
      if (std::max(tab.d[static_cast<size_t>(j)], 0.0) / -pr[j] > within) continue;
      if (q < 0) {
        q = j;
        if (bland) break;
      } else if (-pr[j] > -pr[q]) {
        q = j;
      }
    }
    if (q < 0) return LpStatus::kInfeasible;
    is_basic[static_cast<size_t>(tab.basic[static_cast<size_t>(r)])] = 0;
    is_basic[static_cast<size_t>(q)] = 1;
    pivot(tab, r, q);
  }
  return LpStatus::kIterationLimit;
}

}  // namespace

namespace {

// The tableau of `p` with bounds: structural columns shifted by their lower bounds, one
// surplus per covering row, one row (and slack) per finite upper bound. Basis: the surplus
// and slack variables, which is dual feasible since every cost is >= 0.
Tableau build_tableau(const CoveringProgram& p, const std::vector<double>& lo,
                      const std::vector<double>& hi, double scale) {
  const int n = static_cast<int>(p.cost.size());
  const int m = static_cast<int>(p.demand.size());
  std::vector<int> capped;
  for (int j = 0; j < n; ++j)
    if (std::isfinite(hi[static_cast<size_t>(j)])) capped.push_back(j);
  Tableau tab;
  tab.rows = m + static_cast<int>(capped.size());
  tab.cols = n + tab.rows;
  tab.t.assign(static_cast<size_t>(tab.rows) * static_cast<size_t>(tab.cols), 0.0);
  tab.beta.assign(static_cast<size_t>(tab.rows), 0.0);
  tab.d.assign(static_cast<size_t>(tab.cols), 0.0);
  tab.basic.resize(static_cast<size_t>(tab.rows));
  for (int j = 0; j < n; ++j)
    tab.d[static_cast<size_t>(j)] = p.cost[static_cast<size_t>(j)] / scale;
  for (int i = 0; i < m; ++i) {
    double* r = tab.row(i);
    double rhs = p.demand[static_cast<size_t>(i)];
    for (int j = 0; j < n; ++j) {
      const double a = p.column[static_cast<size_t>(j)][static_cast<size_t>(i)];
      r[j] = -a;
      rhs -= a * lo[static_cast<size_t>(j)];
    }
    r[n + i] = 1.0;
    tab.beta[static_cast<size_t>(i)] = -rhs;
    tab.basic[static_cast<size_t>(i)] = n + i;
  }
  for (size_t k = 0; k < capped.size(); ++k) {
    const int i = m + static_cast<int>(k), j = capped[k];
    double* r = tab.row(i);
    r[j] = 1.0;
    r[n + i] = 1.0;
    tab.beta[static_cast<size_t>(i)] = hi[static_cast<size_t>(j)] - lo[static_cast<size_t>(j)];
    tab.basic[static_cast<size_t>(i)] = n + i;
  }
  return tab;
}

// Dual simplex from a dual-feasible tableau: the fast rule first, Bland's when it cycles.
LpStatus solve_tableau(Tableau& tab) {
  const long limit = 50L * (tab.rows + tab.cols) + 1000;
  Tableau start = tab;
  LpStatus status = dual_simplex(tab, false, limit);
  if (status == LpStatus::kIterationLimit) {
    tab = std::move(start);
    status = dual_simplex(tab, true, limit);
  }
  return status;
}

// Values of the first `n` (structural) columns.
std::vector<double> primal(const Tableau& tab, int n) {
  std::vector<double> x(static_cast<size_t>(n), 0.0);
  for (int i = 0; i < tab.rows; ++i) {
    const int b = tab.basic[static_cast<size_t>(i)];
    if (b < n) x[static_cast<size_t>(b)] = std::max(tab.beta[static_cast<size_t>(i)], 0.0);
  }
  return x;
}

// Adds the row x_j <= bound (`upper`) or x_j >= bound for a structural column basic in the
// tableau, in terms of the nonbasic columns, with a new slack as its basic variable.
void add_bound_row(Tableau& tab, int j, double bound, bool upper) {
  int r = -1;
  for (int i = 0; i < tab.rows; ++i)
    if (tab.basic[static_cast<size_t>(i)] == j) r = i;
  if (r < 0) throw InternalError("covering IP: branching on a nonbasic column");
  const int cols = tab.cols + 1;
  std::vector<double> t(static_cast<size_t>(tab.rows + 1) * static_cast<size_t>(cols), 0.0);
  for (int i = 0; i < tab.rows; ++i)
    std::copy(tab.row(i), tab.row(i) + tab.cols, t.begin() + static_cast<std::ptrdiff_t>(i) * cols);
  double* nr = t.data() + static_cast<size_t>(tab.rows) * static_cast<size_t>(cols);
  const double* br = t.data() + static_cast<size_t>(r) * static_cast<size_t>(cols);
  const double sign = upper ? -1.0 : 1.0;
  for (int q = 0; q < tab.cols; ++q) nr[q] = sign * br[q];
  nr[j] = 0.0;
  nr[cols - 1] = 1.0;
  const double value = tab.beta[static_cast<size_t>(r)];
  tab.beta.push_back(upper ? bound - value : value - bound);
  tab.basic.push_back(cols - 1);
  tab.d.push_back(0.0);
  tab.t = std::move(t);
  tab.rows += 1;
  tab.cols = cols;
}

}  // namespace

LpSolution solve_covering_lp(const CoveringProgram& p, const std::vector<double>& lo_in,
                             const std::vector<double>& hi_in) {
  const int n = static_cast<int>(p.cost.size());
  const int m = static_cast<int>(p.demand.size());
  if (p.column.size() != p.cost.size())
    throw InternalError("covering LP: columns and costs differ in number");
  std::vector<double> lo = lo_in.empty() ? std::vector<double>(static_cast<size_t>(n), 0.0) : lo_in;
  std::vector<double> hi =
      hi_in.empty()
          ? std::vector<double>(static_cast<size_t>(n), std::numeric_limits<double>::infinity())
          : hi_in;
  LpSolution sol;
  if (lo.size() != p.cost.size() || hi.size() != p.cost.size())
    throw InternalError("covering LP: bounds for another number of columns");
  for (int j = 0; j < n; ++j) {
    if (p.column[static_cast<size_t>(j)].size() != static_cast<size_t>(m))
      throw InternalError("covering LP: a column's length is not the number of rows");
    if (p.cost[static_cast<size_t>(j)] < 0) throw InternalError("covering LP: negative cost");
    if (lo[static_cast<size_t>(j)] > hi[static_cast<size_t>(j)]) return sol;  // infeasible bounds
  }
  double scale = 0;
  for (double c : p.cost) scale = std::max(scale, c);
  if (scale <= 0) scale = 1;
  Tableau tab = build_tableau(p, lo, hi, scale);
  sol.status = solve_tableau(tab);
  if (sol.status != LpStatus::kOptimal) return sol;
  sol.x = primal(tab, n);
  for (int j = 0; j < n; ++j) sol.x[static_cast<size_t>(j)] += lo[static_cast<size_t>(j)];
  sol.objective = 0;
  for (int j = 0; j < n; ++j)
    sol.objective += p.cost[static_cast<size_t>(j)] * sol.x[static_cast<size_t>(j)];
  sol.dual.resize(static_cast<size_t>(m));
  for (int i = 0; i < m; ++i)
    sol.dual[static_cast<size_t>(i)] = std::max(tab.d[static_cast<size_t>(n + i)], 0.0) * scale;
  sol.reduced_cost.resize(static_cast<size_t>(n));
  for (int j = 0; j < n; ++j) {
    double rc = p.cost[static_cast<size_t>(j)];
    for (int i = 0; i < m; ++i)
      rc -= sol.dual[static_cast<size_t>(i)] *
            p.column[static_cast<size_t>(j)][static_cast<size_t>(i)];
    sol.reduced_cost[static_cast<size_t>(j)] = rc;
  }
  return sol;
}

namespace {

bool covers(const CoveringProgram& p, const std::vector<long>& x) {
  for (size_t i = 0; i < p.demand.size(); ++i) {
    double s = 0;
    for (size_t j = 0; j < x.size(); ++j) s += p.column[j][i] * static_cast<double>(x[j]);
    if (s < p.demand[i] - 1e-9) return false;
  }
  return true;
}

}  // namespace

IpSolution solve_covering_ip(const CoveringProgram& p, const std::vector<long>& incumbent,
                             long node_limit, const CoverValue& value_in) {
  IpSolution best;
  const size_t n = p.cost.size();
  const CoverValue value = value_in ? value_in : [&p](const std::vector<long>& x) {
    double v = 0;
    for (size_t j = 0; j < x.size(); ++j) v += p.cost[j] * static_cast<double>(x[j]);
    return v;
  };
  if (!incumbent.empty()) {
    if (incumbent.size() != n)
      throw InternalError("covering IP: incumbent has the wrong number of columns");
    if (!covers(p, incumbent))
      throw InternalError("covering IP: the incumbent does not cover the demand");
    best.found = true;
    best.x = incumbent;
    best.objective = value(incumbent);
  }
  const LpSolution root = solve_covering_lp(p);
  if (root.status != LpStatus::kOptimal) return best;
  best.lp_bound = root.objective;
  auto improves = [&](double obj) { return !best.found || obj < best.objective * (1 - 1e-9); };
  // Reduced-cost fixing: a column whose reduced cost alone reaches the incumbent is zero in
  // every better solution.
  std::vector<size_t> keep;
  for (size_t j = 0; j < n; ++j)
    if (improves(root.objective + std::max(root.reduced_cost[j], 0.0))) keep.push_back(j);
  CoveringProgram sub;
  sub.demand = p.demand;
  for (size_t j : keep) {
    sub.cost.push_back(p.cost[j]);
    sub.column.push_back(p.column[j]);
  }
  // Depth-first; a child re-solves its parent's optimal tableau with one bound row added
  // (dual simplex warm start).
  const int ns = static_cast<int>(keep.size());
  double scale = 0;
  for (double c : sub.cost) scale = std::max(scale, c);
  if (scale <= 0) scale = 1;
  struct Node {
    std::shared_ptr<const Tableau> parent;  // null: the root
    int column = -1;
    double bound = 0;
    bool upper = false;
  };
  std::vector<Node> stack;
  stack.push_back(Node{});
  bool gave_up = false;  // a node's LP hit its iteration limit
  while (!stack.empty() && best.nodes < node_limit) {
    Node node = std::move(stack.back());
    stack.pop_back();
    ++best.nodes;
    auto tab = std::make_shared<Tableau>();
    if (!node.parent) {
      *tab = build_tableau(
          sub, std::vector<double>(keep.size(), 0.0),
          std::vector<double>(keep.size(), std::numeric_limits<double>::infinity()), scale);
    } else {
      *tab = *node.parent;
      add_bound_row(*tab, node.column, node.bound, node.upper);
    }
    const LpStatus status = solve_tableau(*tab);
    if (status == LpStatus::kIterationLimit) gave_up = true;
    if (status != LpStatus::kOptimal) continue;
    const std::vector<double> xs = primal(*tab, ns);
    double obj = 0;
    for (int k = 0; k < ns; ++k)
      obj += sub.cost[static_cast<size_t>(k)] * xs[static_cast<size_t>(k)];
    if (!improves(obj)) continue;
    // The LP rounded up covers too: a cheap incumbent at every node.
    std::vector<long> x(n, 0);
    for (size_t k = 0; k < keep.size(); ++k)
      x[keep[k]] = static_cast<long>(std::ceil(xs[k] - 1e-6));
    const double v = value(x);
    if (improves(v) && covers(p, x)) {
      best.found = true;
      best.objective = v;
      best.x = x;
    }
    size_t branch = keep.size();
    double branch_frac = 0;
    for (size_t k = 0; k < keep.size(); ++k) {
      const double f = xs[k] - std::floor(xs[k]);
      if (f > 1e-6 && f < 1 - 1e-6 && f > branch_frac) {
        branch = k;
        branch_frac = f;
      }
    }
    if (branch == keep.size()) continue;  // integral: its rounding above is itself
    std::shared_ptr<const Tableau> solved = std::move(tab);
    const int col = static_cast<int>(branch);
    stack.push_back(Node{solved, col, std::floor(xs[branch]), true});
    stack.push_back(Node{solved, col, std::ceil(xs[branch]),
                         false});  // explored first: rounding up keeps the cover
  }
  best.proven_optimal = stack.empty() && !gave_up && !value_in;
  return best;
}

}  // namespace spindle
