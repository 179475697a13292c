// `spindle`: the project's planner. Candidates (spindle-paper's level plans and the
// whole-graph wavefront of no_barrier.h with either span choice) each have their level
// barriers removed by compaction; the fastest is taken and named in the plan's notes.
#pragma once

#include "planner/config/scenario.h"
#include "planner/cost/cost_model.h"
#include "planner/graph/metagraph.h"
#include "planner/schedule/plan.h"
#include "planner/schedule/spindle_paper.h"

namespace spindle {

// `levels`: spindle-paper's level plans for the same scenario (planned once, shared).
Plan plan_spindle(const LevelPlans& levels, const Scenario& s, const MetaGraph& mg, const CostModel& cost);

}  // namespace spindle
