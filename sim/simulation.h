// A plan's simulated iteration: the placed plan is lowered to per-device programs (the same
// ones the engine runs), their compute timed by the cost model, and the programs replayed on
// the SimGrid model of the cluster, each in its own child process, side by side.
#pragma once

#include <string>
#include <vector>

#include "planner/cost_model.h"
#include "planner/lowering.h"
#include "planner/plan.h"
#include "sim/network_sim.h"
#include "planner/replay_result.h"

namespace spindle {

struct SimulatedPlan {
  Programs programs;
  ReplayResult replay;
};

// Lowers every placed plan, checks its programs complete (lowering's replay), and simulates
// them in parallel; results in plan order. Throws InternalError for programs that deadlock.
std::vector<SimulatedPlan> simulate_plans(const std::vector<const Plan*>& plans, const Scenario& s, const Graph& g,
                                          const MetaGraph& mg, const CostModel& cost, const NetworkOptions& options);

// Simulates given programs with given compute seconds ([device][instr]), one child each.
std::vector<ReplayResult> simulate_programs(const Cluster& cluster, const std::vector<Programs>& programs,
                                            const std::vector<std::vector<std::vector<double>>>& seconds,
                                            const NetworkOptions& options);

}  // namespace spindle
