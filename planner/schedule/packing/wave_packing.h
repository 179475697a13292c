// A MetaLevel's barrier-wave schedule as an integer program over wave configurations (the
// configuration LP of cutting stock, see wave_columns.h): minimise the summed spans of waves
// covering every MetaOp's layers. Column generation, a rounding dive over the layers left,
// then, from each of the fastest given schedules and the dive's cover, branch and bound over
// every column seen, local moves (wave_moves.h) and re-planning of two or three waves at a
// time; the best result is kept.
#pragma once

#include <string>
#include <vector>

#include "planner/schedule/allocator.h"
#include "planner/schedule/plan.h"

namespace spindle {

struct WavePackingReport {
  bool ran = false;
  std::string why_not;        // when !ran: the work it would have taken
  bool lp_converged = false;  // column generation proved the master LP optimal
  double lp_bound_s = 0;      // then: no barrier-wave schedule of the level is faster
  long columns = 0;           // configurations in the integer program
  long nodes = 0;             // branch-and-bound nodes, all starts
};

// Appends the level's waves from `start_s` to `out` and returns the level's end.
// `schedules` (schedules of the same level, best first) give the integer program its
// columns, and the first few distinct ones are starts, so the result is never slower than
// the first. Pricing is bounded by fixed counts of knapsack cells and the search by fixed
// node and round limits, never by time, so plans do not depend on the machine. A level
// whose pricing would exceed the budget gets the local moves only (report->ran false).
double pack_level_waves(const std::vector<LevelItem>& items, int gpus, double start_s,
                        const std::vector<const std::vector<Wave>*>& schedules,
                        std::vector<Wave>& out, WavePackingReport* report);

}  // namespace spindle
