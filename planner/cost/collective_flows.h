// How a collective becomes network flows, the simulator's (and the planner's estimate's) unit of
// contention. By default on GPUs, the algorithm NCCL's tuner picks as one pipelined phase of
// capped flows (collective_flows(..., cluster) below). With collectives = "hierarchical_ring":
// a ring inside a node, and across nodes a reduce-scatter inside each node, a ring between nodes
// over `channels` = the fewest members any node has, one ring per local rank, then an all-gather
// inside each node; each flow carries one rank's whole share of a phase and the number of ring
// steps it stands for, and expand_ring_steps() turns that into one flow per ring step.
#pragma once

#include <optional>
#include <vector>

#include "planner/config/scenario.h"
#include "planner/cost/collective_cost.h"

namespace spindle {

struct Flow {
  int src = 0, dst = 0;  // GPU ids
  double bytes = 0;
  int steps = 1;         // ring steps this flow stands for: each pays the route latency once
  double max_Bps = 0;    // > 0: the flow moves no faster (NCCL's channels and protocol); 0: the links decide
};

// Flows that run at the same time; the next phase starts when all of them are done.
struct FlowPhase {
  std::vector<Flow> flows;
  bool splittable = true;  // a ring phase (steps move distinct chunks); false: a pipelined chain
  double latency_s = 0;    // the phase's latency: its flows start after the larger of this and their route latency
};

// `group`: member GPU ids, ascending; `bytes`: nccl-tests' size (all-gather's output,
// reduce-scatter's input, the buffer otherwise). Send/recv: every member sends `bytes` to the
// next (nccl-tests' sendrecv ring). A group of one has no phases.
std::vector<FlowPhase> collective_flows(Collective c, const std::vector<int>& group, double bytes, int gpus_per_node);

// The collective as the cluster runs it: where the cluster's measured collectives (a profile)
// hold the group's shape, their time, as one phase in the pattern of the algorithm measured
// (NCCL's choice where the run let NCCL choose), capped to last that time uncontended; else
// the collective model's: the hierarchical ring above, or
// (`[cluster] collectives = "nccl"`) the algorithm and protocol NCCL 2.28's tuner picks
// (planner/cost/nccl_tuner.h), as one pipelined phase whose flows follow that algorithm's
// pattern -- a flat ring through every rank (node crossings split over the nodes' rails where
// each GPU has its NIC), a chain inside each node and across nodes the double binary tree's load
// on every NIC, or NVLink SHARP's each-GPU-to-the-switch -- each capped at the rate that makes
// it last the model's bandwidth term, after the model's latency. Uncontended, the phase takes
// nccl_choice(...).time_us; contention comes from the links.
std::vector<FlowPhase> collective_flows(Collective c, const std::vector<int>& group, double bytes, const Cluster& cluster);

// NCCL's time for the collective on `group` (GPU ids; its nodes from the cluster), seconds:
// the measured one where the cluster has it, else NCCL's tuning model's.
double nccl_collective_s(Collective c, const std::vector<int>& group, double bytes, const Cluster& cluster);

// A point-to-point transfer of `bytes` from GPU `src` to `dst` as the cluster measured it (the
// profile's send_recv on two ranks of the pair's shape: one node or two): the latency its data
// waits (the curve's floor) and the rate it then moves at, capped so that uncontended it lasts
// the measured time; nullopt where the cluster has no such measurement (the links decide). The
// simulator and the planner's estimate start the flow after the larger of this latency and the
// route's, as they do a measured collective's.
struct PointToPoint {
  double latency_s = 0, max_Bps = 0;  // max_Bps 0: the links' speed (a size at or below the floor's)
};
std::optional<PointToPoint> measured_point_to_point(int src, int dst, double bytes, const Cluster& cluster);

// Every ring step as its own phase: a flow of s steps becomes s flows of bytes / s, one per
// phase (non-splittable phases stay as they are).
std::vector<FlowPhase> expand_ring_steps(const std::vector<FlowPhase>& phases);

}  // namespace spindle
