// spindle's search per MetaLevel, beyond the published algorithm (spindle_paper.h): MPSP
// allocation and wavefront scheduling with the published rule and its re-planned, perturbed
// variants, local moves on every candidate, then wave packing (schedule/packing/); levels
// concatenated.
#pragma once

#include "planner/config/scenario.h"
#include "planner/cost/cost_model.h"
#include "planner/graph/metagraph.h"
#include "planner/schedule/plan.h"

namespace spindle {

// spindle's level plans: `packed` is the best with wave packing; `polished` and `scheduled` are the
// fastest heuristic schedule of each level after and before local moves (spindle compacts
// each of them too: a faster level plan does not always compact to a faster one). Plans come
// unfinished, as baselines.h's.
struct LevelPlans {
  Plan packed, polished, scheduled;
};

LevelPlans plan_levels(const Scenario& s, const MetaGraph& mg, const CostModel& cost);

}  // namespace spindle
