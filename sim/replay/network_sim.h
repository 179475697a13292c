// The simulator's engine room, behind the project's own types: a cluster's network on SimGrid,
// running per-device programs, a sequence of collectives or a set of flows. Each function
// starts SimGrid's engine, whose clock never resets: call at most one of them, once, per
// process (process_pool.h runs each in a child process).
#pragma once

#include <vector>

#include "planner/config/scenario.h"
#include "planner/program/lowering.h"
#include "planner/program/replay_result.h"
#include "planner/cost/collective_flows.h"

namespace spindle {

struct NetworkOptions {
  bool ring_steps = false;  // every ring step its own flow (default: one flow per rank per phase)
};

// One actor per GPU runs its program: compute sleeps `seconds[device][instr]` (fwd, bwd, copy),
// sends are posted at once (the receiver's buffer is pre-posted, so data flows immediately),
// receives block, collectives start when their last member arrives and run as flows
// (collective_flows), sync-start does not block and sync-wait does.
// Throws InternalError when a program does not finish.
ReplayResult replay_on_network(const Cluster& cluster, const Programs& programs,
                               const std::vector<std::vector<double>>& seconds, const NetworkOptions& options);

// Each entry runs alone, one after another; returns each one's seconds.
std::vector<double> time_collectives_on_network(const Cluster& cluster, const std::vector<std::vector<FlowPhase>>& runs,
                                                const NetworkOptions& options);

// All flows start at time 0; returns when each one ends.
std::vector<double> time_flows_on_network(const Cluster& cluster, const std::vector<Flow>& flows);

}  // namespace spindle
