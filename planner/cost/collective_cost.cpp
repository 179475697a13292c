// Ring and tree alpha-beta formulas (see collective_cost.h).
#include "planner/cost/collective_cost.h"

#include <algorithm>
#include <cmath>

#include "traces/errors.h"

namespace spindle {

const char* collective_name(Collective c) {
  switch (c) {
    case Collective::kAllReduce: return "all_reduce";
    case Collective::kAllGather: return "all_gather";
    case Collective::kReduceScatter: return "reduce_scatter";
    case Collective::kBroadcast: return "broadcast";
    case Collective::kSendRecv: return "send_recv";
  }
  return "?";
}

double bus_bandwidth_factor(Collective c, int ranks) {
  if (ranks < 1) throw InternalError("collective over " + std::to_string(ranks) + " ranks");
  const double p = ranks;
  switch (c) {
    case Collective::kAllReduce: return 2 * (p - 1) / p;
    case Collective::kAllGather:
    case Collective::kReduceScatter: return (p - 1) / p;
    case Collective::kBroadcast:
    case Collective::kSendRecv: return 1;
  }
  return 1;
}

double collective_time_s(Collective c, CollectiveAlgorithm algo, const CollectiveGroup& group, double bytes,
                         const Cluster& cluster) {
  if (group.ranks < 1 || group.nodes < 1 || group.nodes > group.ranks)
    throw InternalError("bad collective group of " + std::to_string(group.ranks) + " ranks on " +
                        std::to_string(group.nodes) + " nodes");
  const bool cross = group.nodes > 1;
  const double alpha = (cross ? cluster.inter_node.latency_us : cluster.intra_node.latency_us) * 1e-6;
  const double bw = (cross ? std::min(cluster.intra_node.bw_GBps, cluster.inter_node.bw_GBps)
                           : cluster.intra_node.bw_GBps) * 1e9;
  const double p = group.ranks;
  if (c == Collective::kSendRecv) return alpha + bytes / bw;
  if (group.ranks == 1) return 0;
  if (algo == CollectiveAlgorithm::kTree) {
    const double depth = std::ceil(std::log2(p));
    if (c == Collective::kAllReduce) return 2 * depth * alpha + 2 * bytes / bw;
    if (c == Collective::kBroadcast) return depth * alpha + bytes / bw;
    throw InternalError(std::string("no tree algorithm for ") + collective_name(c));
  }
  switch (c) {
    case Collective::kAllReduce: return 2 * (p - 1) * (alpha + bytes / p / bw);
    case Collective::kAllGather:
    case Collective::kReduceScatter: return (p - 1) * (alpha + bytes / p / bw);
    case Collective::kBroadcast: return (p - 1) * alpha + bytes / bw;
    case Collective::kSendRecv: break;
  }
  return alpha + bytes / bw;
}

}  // namespace spindle
