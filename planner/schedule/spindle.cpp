// spindle's own candidates and compaction (see spindle.h).
#include "planner/schedule/spindle.h"

#include <string>
#include <vector>

#include "planner/schedule/no_barrier.h"
#include "traces/text_table.h"

namespace spindle {

std::vector<PlanCandidate> spindle_candidates(const LevelPlans& levels, const Scenario& s, const MetaGraph& mg,
                                              const CostModel& cost) {
  const int gpus = s.cluster.gpus();
  std::vector<PlanCandidate> cands;
  cands.push_back({"its level plan (wave packing)", levels.packed});
  cands.push_back({"its fastest heuristic level plan, polished", levels.polished});
  cands.push_back({"its fastest heuristic level plan, as scheduled", levels.scheduled});
  for (SpanChoice c : {SpanChoice::kFirstCompletion, SpanChoice::kBestSpan}) {
    Plan p;
    schedule_without_barriers(mg, cost, gpus, c, p.waves);
    cands.push_back({c == SpanChoice::kFirstCompletion ? "whole-graph waves (first completion)"
                                                       : "whole-graph waves (best span)",
                     std::move(p)});
  }
  for (PlanCandidate& c : cands) {
    c.plan.gpus = gpus;
    c.plan.finish();
    const double before = c.plan.planned_s;
    compact_plan(c.plan, mg, cost);
    c.plan.notes.clear();
    c.plan.notes.push_back("no level barriers: slices start as soon as their MetaOp's predecessors are done and "
                           "devices are free (compaction); " + c.name + " " + fixed(before * 1e3, 3) + " -> " +
                           fixed(c.plan.planned_s * 1e3, 3) + " ms planned");
  }
  return cands;
}

size_t fastest_candidate(const std::vector<PlanCandidate>& candidates) {
  size_t best = 0;
  for (size_t i = 1; i < candidates.size(); ++i)
    if (candidates[i].plan.planned_s < candidates[best].plan.planned_s * (1 - 1e-9)) best = i;
  return best;
}

}  // namespace spindle
