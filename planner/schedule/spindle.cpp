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

Plan plan_spindle(const LevelPlans& levels, const Scenario& s, const MetaGraph& mg, const CostModel& cost) {
  std::vector<PlanCandidate> cands = spindle_candidates(levels, s, mg, cost);
  size_t best = 0;
  for (size_t i = 1; i < cands.size(); ++i)
    if (cands[i].plan.planned_s < cands[best].plan.planned_s * (1 - 1e-9)) best = i;
  return std::move(cands[best].plan);
}

}  // namespace spindle
