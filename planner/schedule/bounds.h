// What a plan is measured against (Spindle paper, arXiv 2409.03365): each MetaLevel's items for the allocator,
// C* (the sum of the levels' MPSP optima), C*valid (the same on valid device counts) and a
// lower bound no plan can beat, level barrier or not.
#pragma once

#include <vector>

#include "planner/cost/cost_model.h"
#include "planner/graph/metagraph.h"
#include "planner/schedule/allocator.h"
#include "planner/schedule/plan.h"

namespace spindle {

// The LevelItems of MetaLevel `level` (1-based).
std::vector<LevelItem> level_items(const MetaGraph& mg, const CostModel& cost, int level);

// Sum over MetaLevels of each level's C*.
double cstar_s(const MetaGraph& mg, const CostModel& cost, int gpus);
// Sum over MetaLevels of each level's valid-count optimum (see valid_count_cstar).
double cstar_valid_s(const MetaGraph& mg, const CostModel& cost, int gpus);

// The larger of the critical path with every MetaOp at its fastest, and the least
// device-seconds of all MetaOps over the GPUs.
double lower_bound_s(const MetaGraph& mg, const CostModel& cost, int gpus);

// Fills in a plan's cstar_s, cstar_valid_s and lower_bound_s.
void set_bounds(Plan& p, const MetaGraph& mg, const CostModel& cost);

}  // namespace spindle
