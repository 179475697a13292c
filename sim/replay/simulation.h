// Simulated iterations: per-device programs (from the pipeline, planner/pipeline.h: the same
// ones the engine runs) have their compute timed by the cost model and are replayed on the
// SimGrid model of the cluster, each program set in its own child process, side by side.
#pragma once

#include <string>
#include <vector>

#include "planner/pipeline.h"
#include "planner/program/replay_result.h"
#include "sim/replay/network_sim.h"

namespace spindle {

// One simulation per entry of `programs`; results in the same order.
std::vector<ReplayResult> simulate(const ScenarioModel& m, const std::vector<Programs>& programs,
                                   const NetworkOptions& options);

// Simulates given programs with given compute seconds ([device][instr]), one child each.
std::vector<ReplayResult> simulate_programs(const Cluster& cluster, const std::vector<Programs>& programs,
                                            const std::vector<std::vector<std::vector<double>>>& seconds,
                                            const NetworkOptions& options);

}  // namespace spindle
