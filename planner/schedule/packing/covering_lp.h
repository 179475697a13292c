// A small dense solver for covering programs: minimise c.x subject to A x >= b and
// lo <= x <= hi, with c >= 0 (dual simplex from the surplus basis, which is dual feasible,
// so no phase one), and their integer version by depth-first branch and bound with a node
// limit. Sized for the wave-packing master problems: tens of rows, hundreds of columns.
#pragma once

#include <functional>
#include <limits>
#include <vector>

namespace spindle {

struct CoveringProgram {
  std::vector<double> cost;                 // per column, >= 0
  std::vector<std::vector<double>> column;  // per column: one coefficient per row
  std::vector<double> demand;               // per row
};

enum class LpStatus { kOptimal, kInfeasible, kIterationLimit };

struct LpSolution {
  LpStatus status = LpStatus::kInfeasible;
  double objective = 0;
  std::vector<double> x;             // per column
  std::vector<double> dual;          // per row, >= 0
  std::vector<double> reduced_cost;  // per column, c_j - dual.A_j (bound rows' duals left out)
};

// Bounds per column (empty: 0 and +infinity).
LpSolution solve_covering_lp(const CoveringProgram& p, const std::vector<double>& lo = {},
                             const std::vector<double>& hi = {});

struct IpSolution {
  bool found = false;           // x holds a solution (the incumbent given, or better)
  bool proven_optimal = false;  // min cost.x: the search finished (no `value`, no LP gave up)
  double objective = std::numeric_limits<double>::infinity();  // value(x)
  double lp_bound = 0;                                         // the root relaxation of cost.x
  long nodes = 0;
  std::vector<long> x;  // per column
};

// What an integer cover really costs; covering programs often trim what is covered twice,
// so this may be below cost.x. Empty: cost.x.
using CoverValue = std::function<double(const std::vector<long>&)>;

// Branch and bound (depth first, rounding up first) from `incumbent` (may be empty); every
// node also tries its LP rounded up, and covers are compared by `value`. Columns whose root
// reduced cost alone would reach the incumbent are fixed at zero. Pruning and fixing are
// sound for cost.x only: with a `value` below it the search is a heuristic for `value`.
IpSolution solve_covering_ip(const CoveringProgram& p, const std::vector<long>& incumbent,
                             long node_limit, const CoverValue& value = {});

}  // namespace spindle
