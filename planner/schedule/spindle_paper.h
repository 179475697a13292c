// `spindle-paper`, Spindle as published (Spindle paper, arXiv 2409.03365, sections 4.2-4.3): per
// MetaLevel, the MPSP allocation (allocator.h: C* and n*), bi-point discretisation of n* into
// valid device counts, and the greedy wavefront (wavefront.h, the published rule: a wave lasts
// as long as its shortest piece); levels run one after another. Nothing else: no re-planning,
// no local moves, no wave packing, no other system's plan (those are `spindle`'s).
#pragma once

#include "planner/config/scenario.h"
#include "planner/cost/cost_model.h"
#include "planner/graph/metagraph.h"
#include "planner/schedule/plan.h"

namespace spindle {

// Unfinished, as baselines.h's plans (SystemPlanner finishes it).
Plan plan_spindle_paper(const Scenario& s, const MetaGraph& mg, const CostModel& cost);

}  // namespace spindle
