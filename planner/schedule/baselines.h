// The systems users would otherwise run, planned on the same cost model: `sequential`
// (Megatron-LM / DeepSpeed: tasks one after another, each MetaOp data-parallel on as many GPUs
// as help it), `uniform` (N/k GPUs per task, all tasks at once) and `optimus` (Spindle-Optimus:
// task-level greedy, each next GPU to the task whose time drops most). Plans come unfinished:
// systems.h names them and fills in the bounds.
#pragma once

#include "planner/config/scenario.h"
#include "planner/cost/cost_model.h"
#include "planner/graph/metagraph.h"
#include "planner/schedule/plan.h"

namespace spindle {

Plan plan_sequential(const Scenario& s, const MetaGraph& mg, const CostModel& cost);
Plan plan_uniform(const Scenario& s, const MetaGraph& mg, const CostModel& cost);
Plan plan_optimus(const Scenario& s, const MetaGraph& mg, const CostModel& cost);

}  // namespace spindle
