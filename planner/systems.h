// The planners a user compares: Spindle as published (`spindle-paper`: MPSP allocation and
// wavefront scheduling per MetaLevel, levels concatenated) and the systems users would
// otherwise run: `sequential` (Megatron-LM / DeepSpeed: tasks one after another, each MetaOp
// data-parallel on as many GPUs as help it), `uniform` (N/k GPUs per task, all tasks at once)
// and `optimus` (Spindle-Optimus: task-level greedy, each next GPU to the task whose time
// drops most). All produce the same Plan, with C* and the lower bound filled in.
#pragma once

#include <string>
#include <vector>

#include "planner/allocator.h"
#include "planner/plan.h"

namespace spindle {

// spindle (no level barrier), spindle-paper, sequential, uniform, optimus.
const std::vector<std::string>& system_names();
// Throws InputError "--system NAME: unknown system; allowed: ..." unless NAME is one of them.
void check_system_name(const std::string& name);

// Throws InputError for an unknown name (listing the known ones).
Plan plan_system(const std::string& name, const Scenario& s, const MetaGraph& mg, const CostModel& cost);

// The plan system `name` makes, placed by Spindle's placement: what spindle-sim simulates and
// spindle-run executes.
Plan placed_plan(const std::string& name, const Scenario& s, const Graph& g, const MetaGraph& mg, const CostModel& cost);

// A plan file read and checked against the scenario, placed by Spindle's placement unless it
// names its devices already.
Plan placed_plan_file(const std::string& file, const Scenario& s, const Graph& g, const MetaGraph& mg,
                      const CostModel& cost);

// The LevelItems of MetaLevel `level` (1-based).
std::vector<LevelItem> level_items(const MetaGraph& mg, const CostModel& cost, int level);

// Sum over MetaLevels of each level's C*.
double cstar_s(const MetaGraph& mg, const CostModel& cost, int gpus);
// Sum over MetaLevels of each level's valid-count optimum (see valid_count_cstar).
double cstar_valid_s(const MetaGraph& mg, const CostModel& cost, int gpus);

// Fills in a plan's cstar_s, cstar_valid_s and lower_bound_s.
void set_bounds(Plan& p, const MetaGraph& mg, const CostModel& cost);

// A bound no plan can beat, level barrier or not: the larger of the critical path with every
// MetaOp at its fastest, and the least device-seconds of all MetaOps over the GPUs.
double lower_bound_s(const MetaGraph& mg, const CostModel& cost, int gpus);

}  // namespace spindle
