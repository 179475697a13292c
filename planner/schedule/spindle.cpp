// spindle's candidates and compaction (see spindle.h).
#include "planner/schedule/spindle.h"

#include <string>
#include <vector>

#include "planner/schedule/no_barrier.h"
#include "traces/text_table.h"

namespace spindle {

Plan plan_spindle(const LevelPlans& levels, const Scenario& s, const MetaGraph& mg, const CostModel& cost) {
  // Candidates, each with its barriers removed by compaction: spindle-paper's plan, and the
  // whole-graph wavefront with either span choice. The fastest is taken and named.
  const int gpus = s.cluster.gpus();
  struct Candidate {
    const char* name;
    Plan plan;
  };
  std::vector<Candidate> cands;
  cands.push_back({"spindle-paper's level plan", levels.packed});
  cands.push_back({"its fastest heuristic level plan, polished", levels.polished});
  cands.push_back({"its fastest heuristic level plan, as scheduled", levels.scheduled});
  for (SpanChoice c : {SpanChoice::kFirstCompletion, SpanChoice::kBestSpan}) {
    Plan p;
    schedule_without_barriers(mg, cost, gpus, c, p.waves);
    cands.push_back({c == SpanChoice::kFirstCompletion ? "whole-graph waves (first completion)"
                                                       : "whole-graph waves (best span)",
                     std::move(p)});
  }
  Candidate* best = nullptr;
  std::string tried;
  for (Candidate& c : cands) {
    c.plan.gpus = gpus;
    c.plan.finish();
    const double before = c.plan.planned_s;
    compact_plan(c.plan, mg, cost);
    tried += (tried.empty() ? "" : "; ") + std::string(c.name) + " " + fixed(before * 1e3, 3) + " -> " +
             fixed(c.plan.planned_s * 1e3, 3) + " ms";
    if (best == nullptr || c.plan.planned_s < best->plan.planned_s * (1 - 1e-9)) best = &c;
  }
  Plan p = std::move(best->plan);
  p.notes.clear();
  p.notes.push_back("no level barriers: slices start as soon as their MetaOp's predecessors are done and devices are "
                    "free (compaction); candidates, before -> after: " + tried + "; taken: " + best->name);
  return p;
}

}  // namespace spindle
