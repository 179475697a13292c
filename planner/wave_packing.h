// A MetaLevel's barrier-wave schedule as an integer program over wave configurations (the
// configuration LP of cutting stock): a configuration runs some of the level's MetaOps, each
// on n valid devices for l whole layers, the n summing to at most N; its span is its longest
// slice. Minimise the summed spans so that every MetaOp's layers are covered. Column
// generation (pricing: a multiple-choice knapsack per candidate span), a rounding dive over
// the layers left, then branch and bound over every column seen, from an incumbent schedule.
#pragma once

#include <string>
#include <vector>

#include "planner/allocator.h"
#include "planner/plan.h"

namespace spindle {

struct WavePackingReport {
  bool ran = false;
  std::string why_not;        // when !ran: the work it would have taken
  bool lp_converged = false;  // column generation proved the master LP optimal
  double lp_bound_s = 0;      // then: no barrier-wave schedule of the level is faster
  double incumbent_s = 0;     // the first schedule's summed spans
  double packed_s = 0;        // the result's summed spans (<= incumbent_s)
  long columns = 0;           // configurations in the final integer program
  long nodes = 0;             // branch-and-bound nodes, all starts
};

// Appends the level's waves from `start_s` to `out` and returns the level's end.
// `schedules` (schedules of the same level, best first) give the integer program its
// columns, and the first few distinct ones are its starts, so the result is never slower
// than the first. Work is bounded by fixed counts of knapsack cells and branch-and-bound
// nodes, so results do not depend on the machine; a level too large for that budget keeps
// the first schedule (report->ran false).
double pack_level_waves(const std::vector<LevelItem>& items, int gpus, double start_s,
                        const std::vector<const std::vector<Wave>*>& schedules,
                        std::vector<Wave>& out, WavePackingReport* report);

// The same local moves alone on a finished schedule of the level (`waves` from `start_s`):
// a layer of a slice that sets its wave's span moves to another wave, or the slice widens
// onto idle devices, while the summed span falls. Rewrites `waves`; returns the level's end.
double polish_level_waves(const std::vector<LevelItem>& items, int gpus, double start_s,
                          std::vector<Wave>& waves);

}  // namespace spindle
