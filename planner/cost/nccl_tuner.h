// NCCL 2.28's own cost model, as its tuner (src/graph/tuning.cc, tag v2.28.9-1) computes it, on
// the scenario's hardware: for a collective of nccl-tests' size on a group of ranks spread over
// nodes, every (algorithm, protocol) NCCL would consider -- ring, tree (all-reduce), NVLS and
// NVLS-tree (NVSwitch with SHARP), PAT (all-gather/reduce-scatter, one GPU per node) x LL, LL128,
// Simple -- with its latency (base + per-hop hardware latency x hops) and bus bandwidth
// (channels x per-channel bandwidth x protocol efficiency, capped per architecture), and the
// cheapest, which is what NCCL runs. Channels and per-channel bandwidths stand in for NCCL's
// topology search: derived from the NVLink and network figures (see README "Collectives").
#pragma once

#include <string>
#include <vector>

#include "planner/config/scenario.h"
#include "planner/cost/collective_cost.h"

namespace spindle {

enum class NcclAlgo { kTree, kRing, kNvls, kNvlsTree, kPat };
enum class NcclProto { kLL, kLL128, kSimple };
const char* nccl_algo_name(NcclAlgo a);    // "tree", "ring", "nvls", "nvls_tree", "pat"
const char* nccl_proto_name(NcclProto p);  // "LL", "LL128", "Simple"

// The channels NCCL's search would find (per GPU) for a group with `members_per_node[i]` ranks on
// each node it spans: their number and each one's bandwidth, for the ring/tree graph and for the
// NVLS graph. Each node searches its own graphs and NCCL keeps the least channels and bandwidth
// any node found (init.cc:1179-1182): with a NIC per GPU, a channel's node crossings ride the
// rails of GPUs the group has on both nodes, so the network a node offers the group is its
// fewest members' NICs (8 + 4 GPUs on two nodes: 4 rails), as the simulator's crossings use
// them; NVLS gets one channel per member of the emptiest node, each at the fullest node's speed.
struct NcclGraph {
  int channels = 0;
  double bw_GBps = 0;        // per channel (NCCL's bwIntra; the ring's bwInter too)
  double inter_GBps = 0;     // NVLS across nodes: each channel's network share (NCCL's bwInter)
};
struct NcclTopology {
  NcclGraph ring;      // also the tree's
  NcclGraph nvls;      // channels 0: no NVLS
  int ranks = 1, nodes = 1;
  int most_per_node = 1;    // the most members on one node
  int fewest_per_node = 1;  // the fewest on one node
  double ppn() const { return static_cast<double>(ranks) / nodes; }  // NCCL's tuner's ppn (tuning.cc:261)
};
NcclTopology nccl_topology(const Cluster& c, const std::vector<int>& members_per_node);
// Members 0..ranks-1 of `c` (whole nodes, the last one partial): nccl-tests' placement.
NcclTopology nccl_topology(const Cluster& c, int ranks);

struct NcclCost {
  NcclAlgo algo = NcclAlgo::kRing;
  NcclProto proto = NcclProto::kSimple;
  double latency_us = 0;  // per operation
  double algbw_GBps = 0;  // NCCL's bandwidths[] entry (after the tree size correction)
  double time_us = 0;     // latency + bytes / algbw, as ncclTopoGetAlgoTime
};

// Every (algorithm, protocol) NCCL 2.28 enables for `c` on this group, with its time for
// `bytes` (nccl-tests' size: the whole buffer, all-gather's output, reduce-scatter's input), in
// NCCL's scan order (algorithm-major). Send/recv has no tuner entry (NCCL has no p2p model):
// one Simple entry, per-hop latency plus bytes over the path's bandwidth.
std::vector<NcclCost> nccl_costs(Collective c, const NcclTopology& t, double bytes, const Cluster& cluster);

// The one NCCL runs: the cheapest, the first on ties (NCCL compares with a strict <); with
// `cluster.nccl_algo` (NCCL_ALGO), the cheapest of that algorithm where it runs the collective.
NcclCost nccl_choice(Collective c, const NcclTopology& t, double bytes, const Cluster& cluster);

}  // namespace spindle
