// How a collective becomes network flows, the simulator's unit of contention: a ring inside a
// node, and across nodes a hierarchical ring (reduce-scatter inside each node, a ring between
// nodes over `channels` = the fewest members any node has, one ring per local rank, then an
// all-gather inside each node), as NCCL does on NVLink islands joined by a network.
// Each flow carries one rank's whole share of a phase and the number of ring steps it stands
// for; expand_ring_steps() turns that into one flow per ring step where wanted.
#pragma once

#include <vector>

#include "planner/cost/collective_cost.h"

namespace spindle {

struct Flow {
  int src = 0, dst = 0;  // GPU ids
  double bytes = 0;
  int steps = 1;         // ring steps this flow stands for: each pays the route latency once
};

// Flows that run at the same time; the next phase starts when all of them are done.
struct FlowPhase {
  std::vector<Flow> flows;
  bool splittable = true;  // a ring phase (steps move distinct chunks); false: a pipelined chain
};

// `group`: member GPU ids, ascending; `bytes`: nccl-tests' size (all-gather's output,
// reduce-scatter's input, the buffer otherwise). Send/recv: every member sends `bytes` to the
// next (nccl-tests' sendrecv ring). A group of one has no phases.
std::vector<FlowPhase> collective_flows(Collective c, const std::vector<int>& group, double bytes, int gpus_per_node);

// Every ring step as its own phase: a flow of s steps becomes s flows of bytes / s, one per
// phase (non-splittable phases stay as they are).
std::vector<FlowPhase> expand_ring_steps(const std::vector<FlowPhase>& phases);

}  // namespace spindle
