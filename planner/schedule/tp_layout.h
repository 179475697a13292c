// The tensor-parallel layout every system plans with: one TP degree per component (its
// weights keep one layout across tasks and waves, so weight sync runs per shard). Degrees
// named in [planner] tp are kept; the others are chosen, by coordinate descent from the
// smallest degree each component fits memory with, to minimise C*valid (bounds.h), the
// allocation optimum on valid device counts that the planners start from: a larger degree
// wins where it lets a small batch use more GPUs, or its all-reduces cost less than the
// data parallelism it replaces gains.
#pragma once

#include <map>
#include <string>

#include "planner/config/scenario.h"
#include "planner/cost/cost_model.h"
#include "planner/graph/metagraph.h"

namespace spindle {

// Sets `cost`'s layout and returns it. Throws InputError naming [planner] tp's key when a fixed
// degree is not among the component's options.
std::map<std::string, int> choose_tp_layout(const Scenario& s, const MetaGraph& mg, CostModel& cost);

}  // namespace spindle
