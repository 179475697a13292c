// The planner's estimate of one iteration of a placed, lowered plan: every device runs its
// program as the simulator runs it (compute for its cost-model time, sends posted at once,
// receives and collectives blocking, weight-sync buckets started when their last gradient is
// ready and waited for before the optimizer step), and every transfer and collective moves as
// flows (cost/collective_flows.h) over the cluster's links shared max-min fairly
// (fluid_network.h). It is the SimGrid replay's model without SimGrid: fast enough to score
// every candidate plan, and checked against the replay for every simulated system.
#pragma once

#include <cstdint>
#include <vector>

#include "planner/config/scenario.h"
#include "planner/program/lowering.h"

namespace spindle {

struct IterationEstimate {
  double iteration_s = 0;
  // Means over devices, as the simulation reports them (replay_result.h's categories).
  double compute_s = 0, transfer_s = 0, sync_s = 0;
  std::int64_t flows = 0;  // network flows moved (transfers and collective flows)
};

// `seconds[device][instr]`: each instruction's compute time (program/instr_time.h).
// Throws InternalError when the programs do not complete.
IterationEstimate estimate_iteration(const Programs& programs, const std::vector<std::vector<double>>& seconds,
                                     const Cluster& cluster);

}  // namespace spindle
