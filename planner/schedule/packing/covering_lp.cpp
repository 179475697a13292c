// Covering programs solved by COIN-OR: CLP's simplex for the LPs, CBC's branch and bound for
// the IP (see covering_lp.h). The only file that includes COIN-OR headers.
#include "planner/schedule/packing/covering_lp.h"

#include <CbcModel.hpp>
#include <ClpSimplex.hpp>
#include <CoinMessageHandler.hpp>
#include <CoinPackedMatrix.hpp>
#include <OsiClpSolverInterface.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "traces/errors.h"

namespace spindle {
namespace {

// The program as CLP loads it: one >= row per demand, column bounds, costs.
struct Loaded {
  CoinPackedMatrix matrix{true, 0, 0};  // column-ordered
  std::vector<double> lo, hi, cost, row_lo, row_hi;
};

Loaded load(const CoveringProgram& p, const std::vector<double>& lo_in, const std::vector<double>& hi_in) {
  const size_t n = p.cost.size(), m = p.demand.size();
  if (p.column.size() != n) throw InternalError("covering LP: columns and costs differ in number");
  if ((!lo_in.empty() && lo_in.size() != n) || (!hi_in.empty() && hi_in.size() != n))
    throw InternalError("covering LP: bounds for another number of columns");
  Loaded l;
  l.matrix.setDimensions(static_cast<int>(m), 0);
  std::vector<int> idx;
  std::vector<double> val;
  for (size_t j = 0; j < n; ++j) {
    if (p.column[j].size() != m) throw InternalError("covering LP: a column's length is not the number of rows");
    if (p.cost[j] < 0) throw InternalError("covering LP: negative cost");
    idx.clear();
    val.clear();
    for (size_t i = 0; i < m; ++i)
      if (p.column[j][i] != 0) {
        idx.push_back(static_cast<int>(i));
        val.push_back(p.column[j][i]);
      }
    l.matrix.appendCol(static_cast<int>(idx.size()), idx.data(), val.data());
    l.lo.push_back(lo_in.empty() ? 0.0 : lo_in[j]);
    l.hi.push_back(hi_in.empty() || std::isinf(hi_in[j]) ? COIN_DBL_MAX : hi_in[j]);
  }
  l.cost = p.cost;
  l.row_lo = p.demand;
  l.row_hi.assign(m, COIN_DBL_MAX);
  return l;
}

bool covers(const CoveringProgram& p, const std::vector<long>& x) {
  for (size_t i = 0; i < p.demand.size(); ++i) {
    double s = 0;
    for (size_t j = 0; j < x.size(); ++j) s += p.column[j][i] * static_cast<double>(x[j]);
    if (s < p.demand[i] - 1e-9) return false;
  }
  return true;
}

double cost_of(const CoveringProgram& p, const std::vector<long>& x) {
  double v = 0;
  for (size_t j = 0; j < x.size(); ++j) v += p.cost[j] * static_cast<double>(x[j]);
  return v;
}

}  // namespace

namespace {

// The LP solution of an optimal CLP model of `p`, duals clipped at zero (covering rows).
LpSolution optimal_solution(const ClpSimplex& clp, const CoveringProgram& p) {
  const size_t n = p.cost.size(), m = p.demand.size();
  LpSolution sol;
  sol.status = LpStatus::kOptimal;
  sol.x.assign(clp.getColSolution(), clp.getColSolution() + n);
  sol.objective = 0;
  for (size_t j = 0; j < n; ++j) sol.objective += p.cost[j] * sol.x[j];
  sol.dual.resize(m);
  for (size_t i = 0; i < m; ++i) sol.dual[i] = std::max(clp.getRowPrice()[i], 0.0);
  sol.reduced_cost.resize(n);
  for (size_t j = 0; j < n; ++j) {
    double rc = p.cost[j];
    for (size_t i = 0; i < m; ++i) rc -= sol.dual[i] * p.column[j][i];
    sol.reduced_cost[j] = rc;
  }
  return sol;
}

LpSolution status_of(const ClpSimplex& clp, const CoveringProgram& p) {
  if (clp.isProvenOptimal()) return optimal_solution(clp, p);
  LpSolution sol;
  sol.status = clp.isProvenPrimalInfeasible() ? LpStatus::kInfeasible : LpStatus::kIterationLimit;
  return sol;
}

}  // namespace

LpSolution solve_covering_lp(const CoveringProgram& p, const std::vector<double>& lo, const std::vector<double>& hi) {
  const Loaded l = load(p, lo, hi);
  for (size_t j = 0; j < l.lo.size(); ++j)
    if (l.lo[j] > l.hi[j]) return LpSolution{};  // infeasible bounds
  ClpSimplex clp;
  clp.setLogLevel(0);
  clp.loadProblem(l.matrix, l.lo.data(), l.hi.data(), l.cost.data(), l.row_lo.data(), l.row_hi.data());
  // The all-surplus basis is dual feasible (costs >= 0): the dual simplex needs no phase one.
  clp.dual();
  return status_of(clp, p);
}

struct CoveringMaster::Solver {
  ClpSimplex clp;
  bool solved = false;
};

CoveringMaster::CoveringMaster(std::vector<double> demand) : solver_(std::make_unique<Solver>()) {
  p_.demand = std::move(demand);
  const Loaded l = load(p_, {}, {});
  solver_->clp.setLogLevel(0);
  solver_->clp.loadProblem(l.matrix, nullptr, nullptr, nullptr, l.row_lo.data(), l.row_hi.data());
}

CoveringMaster::~CoveringMaster() = default;

void CoveringMaster::add_column(double cost, const std::vector<double>& column) {
  if (column.size() != p_.demand.size()) throw InternalError("covering LP: a column's length is not the number of rows");
  if (cost < 0) throw InternalError("covering LP: negative cost");
  std::vector<int> idx;
  std::vector<double> val;
  for (size_t i = 0; i < column.size(); ++i)
    if (column[i] != 0) {
      idx.push_back(static_cast<int>(i));
      val.push_back(column[i]);
    }
  solver_->clp.addColumn(static_cast<int>(idx.size()), idx.data(), val.data(), 0.0, COIN_DBL_MAX, cost);
  p_.cost.push_back(cost);
  p_.column.push_back(column);
}

LpSolution CoveringMaster::solve() {
  ClpSimplex& clp = solver_->clp;
  // First from the surplus basis (dual feasible); then from the last optimal basis, which a
  // new column leaves primal feasible.
  if (solver_->solved) clp.primal();
  else clp.dual();
  solver_->solved = true;
  return status_of(clp, p_);
}

IpSolution solve_covering_ip(const CoveringProgram& p, const std::vector<long>& incumbent, long node_limit,
                             const CoverValue& value_in) {
  const size_t n = p.cost.size();
  const CoverValue value = value_in ? value_in : [&p](const std::vector<long>& x) { return cost_of(p, x); };
  IpSolution best;
  auto consider = [&](const std::vector<long>& x) {
    if (!covers(p, x)) return;
    const double v = value(x);
    if (!best.found || v < best.objective * (1 - 1e-9)) {
      best.found = true;
      best.objective = v;
      best.x = x;
    }
  };
  if (!incumbent.empty()) {
    if (incumbent.size() != n) throw InternalError("covering IP: incumbent has the wrong number of columns");
    if (!covers(p, incumbent)) throw InternalError("covering IP: the incumbent does not cover the demand");
    consider(incumbent);
  }
  const Loaded l = load(p, {}, {});
  OsiClpSolverInterface osi;
  osi.messageHandler()->setLogLevel(0);
  osi.getModelPtr()->setLogLevel(0);
  osi.loadProblem(l.matrix, l.lo.data(), l.hi.data(), l.cost.data(), l.row_lo.data(), l.row_hi.data());
  for (size_t j = 0; j < n; ++j) osi.setInteger(static_cast<int>(j));
  osi.initialSolve();
  if (!osi.isProvenOptimal()) return best;
  best.lp_bound = osi.getObjValue();
  {  // the root LP rounded up: a cover, often a good one
    std::vector<long> x(n);
    for (size_t j = 0; j < n; ++j) x[j] = static_cast<long>(std::ceil(osi.getColSolution()[j] - 1e-6));
    consider(x);
  }
  // Single-threaded, no cuts or heuristics beyond CBC's defaults, a node (not time) limit:
  // the same program gives the same answer on every machine.
  CbcModel cbc(osi);
  cbc.setLogLevel(0);
  cbc.messageHandler()->setLogLevel(0);
  cbc.solver()->messageHandler()->setLogLevel(0);
  cbc.setNumberThreads(0);
  cbc.setMaximumNodes(static_cast<int>(std::min<long>(node_limit, std::numeric_limits<int>::max())));
  cbc.setMaximumSavedSolutions(10);
  // Pseudo-cost branching from the first node, no strong-branching warm-up: the programs are
  // small and solved many times per plan (2x faster, same plans on the zoo).
  cbc.setNumberBeforeTrust(0);
  if (best.found) {
    const std::vector<long>& x = best.x;
    std::vector<double> start(x.begin(), x.end());
    cbc.setBestSolution(start.data(), static_cast<int>(n), cost_of(p, x), true);
  }
  cbc.branchAndBound();
  best.nodes = cbc.getNodeCount();
  // Every cover CBC kept, judged by `value` (which may trim what a cover holds twice).
  for (int k = 0; k < cbc.numberSavedSolutions(); ++k) {
    const double* s = cbc.savedSolution(k);
    std::vector<long> x(n);
    for (size_t j = 0; j < n; ++j) x[j] = std::lround(s[j]);
    consider(x);
  }
  if (cbc.bestSolution()) {
    std::vector<long> x(n);
    for (size_t j = 0; j < n; ++j) x[j] = std::lround(cbc.bestSolution()[j]);
    consider(x);
  }
  best.proven_optimal = cbc.isProvenOptimal() && !value_in;
  return best;
}

}  // namespace spindle
