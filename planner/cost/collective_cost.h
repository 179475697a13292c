// Alpha-beta cost of NCCL-style collectives on the scenario's two-level topology (NVLink
// inside a node, the network between nodes), with nccl-tests' algbw and busbw definitions so
// that modelled and measured numbers compare directly: algbw = size / time, busbw = algbw x
// (all-reduce 2(p-1)/p, all-gather and reduce-scatter (p-1)/p, broadcast and send/recv 1),
// where size is nccl-tests' size (the whole buffer; all-gather's output, reduce-scatter's input).
#pragma once

#include <string>

#include "planner/config/scenario.h"

namespace spindle {

enum class Collective { kAllReduce, kAllGather, kReduceScatter, kBroadcast, kSendRecv };
enum class CollectiveAlgorithm { kRing, kTree };
const char* collective_name(Collective c);

struct CollectiveGroup {
  int ranks = 1;  // p
  int nodes = 1;  // nodes the ranks span (1: NVLink only)
};

// Seconds for one collective of `bytes` (nccl-tests size). Ring: all-reduce 2(p-1) steps of
// size/p, all-gather and reduce-scatter (p-1) steps of size/p, broadcast pipelined
// (p-1) alpha + size / bw, send/recv alpha + size / bw. Tree (all-reduce, broadcast only):
// 2 log2(p) alpha + 2 size / bw, and log2(p) alpha + size / bw. Across nodes the step latency
// is the network's and the bandwidth the slower of NVLink and the network (one ring flow per
// node link). Throws InternalError for tree all-gather / reduce-scatter (NCCL has none).
double collective_time_s(Collective c, CollectiveAlgorithm algo, const CollectiveGroup& group, double bytes,
                         const Cluster& cluster);

double bus_bandwidth_factor(Collective c, int ranks);
inline double algbw_GBps(double bytes, double time_s) { return bytes / time_s / 1e9; }
inline double busbw_GBps(Collective c, int ranks, double bytes, double time_s) {
  return algbw_GBps(bytes, time_s) * bus_bandwidth_factor(c, ranks);
}

}  // namespace spindle
