// `spindle`: the project's planner. Its own candidates (level_search.h's level plans and the
// whole-graph wavefront of no_barrier.h with either span choice) each have their level
// barriers removed by compaction. The pipeline (planner/pipeline.h) places, lowers and
// estimates them beside the other systems' plans and keeps the fastest estimated iteration.
#pragma once

#include "planner/config/scenario.h"
#include "planner/cost/cost_model.h"
#include "planner/graph/metagraph.h"
#include "planner/schedule/plan.h"
#include "planner/schedule/level_search.h"

#include <string>
#include <vector>

namespace spindle {

struct PlanCandidate {
  std::string name;  // for people: "spindle's level plan", "uniform's plan", ...
  Plan plan;         // finished
};

// spindle's own candidates, compacted and finished, in a fixed order. `levels`: the level
// search's plans for the same scenario (planned once, shared).
std::vector<PlanCandidate> spindle_candidates(const LevelPlans& levels, const Scenario& s, const MetaGraph& mg,
                                              const CostModel& cost);

// The index of the candidate with the shortest planned (compute) makespan, the first on ties.
size_t fastest_candidate(const std::vector<PlanCandidate>& candidates);

}  // namespace spindle
