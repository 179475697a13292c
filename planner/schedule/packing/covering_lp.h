// Covering programs: minimise c.x subject to A x >= b and lo <= x <= hi, with c >= 0, and
// their integer version, solved by COIN-OR (CLP's simplex, CBC's branch and bound with a node
// limit, single-threaded: the same program gives the same answer everywhere). Sized for the
// wave-packing master problems: tens of rows, hundreds of columns. One wrapper: COIN-OR's
// headers stay in covering_lp.cpp.
#pragma once

#include <functional>
#include <limits>
#include <memory>
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

// A column-generation master: rows fixed, columns added one by one, each solve warm-started
// from the last optimal basis (primal simplex: a new column keeps the basis feasible).
class CoveringMaster {
 public:
  explicit CoveringMaster(std::vector<double> demand);
  ~CoveringMaster();
  CoveringMaster(const CoveringMaster&) = delete;
  CoveringMaster& operator=(const CoveringMaster&) = delete;
  void add_column(double cost, const std::vector<double>& column);
  LpSolution solve();

 private:
  struct Solver;
  std::unique_ptr<Solver> solver_;
  CoveringProgram p_;
};

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

// CBC's branch and bound on cost.x from `incumbent` (may be empty), at most `node_limit`
// nodes; the incumbent, the root LP rounded up and every cover CBC kept are compared by
// `value`, the best returned. CBC prunes by cost.x: with a `value` below it the search is a
// heuristic for `value`.
IpSolution solve_covering_ip(const CoveringProgram& p, const std::vector<long>& incumbent,
                             long node_limit, const CoverValue& value = {});

}  // namespace spindle
