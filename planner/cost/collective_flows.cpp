// Collectives as flows (see collective_flows.h): the hierarchical ring's phases, and the patterns
// of NCCL's algorithms (ring, tree, NVLS) that its tuner's choice runs.
#include "planner/cost/collective_flows.h"

#include <algorithm>
#include <map>
#include <optional>

#include "planner/cost/collective_table.h"
#include "planner/cost/nccl_tuner.h"
#include "traces/errors.h"

namespace spindle {
namespace {

// One ring over `ranks`: each sends `share` to the next, standing for `steps` ring steps.
void add_ring(FlowPhase& phase, const std::vector<int>& ranks, double share, int steps) {
  const size_t p = ranks.size();
  if (p < 2 || share <= 0) return;
  for (size_t i = 0; i < p; ++i) phase.flows.push_back({ranks[i], ranks[(i + 1) % p], share, steps});
}

// A ring inside every node of `local` (reduce-scatter or all-gather of `bytes`).
FlowPhase intra_phase(const std::vector<std::vector<int>>& local, double bytes) {
  FlowPhase ph;
  for (const auto& ranks : local) {
    const double k = static_cast<double>(ranks.size());
    add_ring(ph, ranks, (k - 1) / k * bytes, static_cast<int>(ranks.size()) - 1);
  }
  return ph;
}

// Rings between nodes, one per channel (local rank i of every node); each node moves
// `per_node` bytes in total, split over the channels.
FlowPhase inter_phase(const std::vector<std::vector<int>>& local, double per_node, int steps) {
  size_t channels = local.front().size();
  for (const auto& ranks : local) channels = std::min(channels, ranks.size());
  FlowPhase ph;
  for (size_t c = 0; c < channels; ++c) {
    std::vector<int> ring;
    for (const auto& ranks : local) ring.push_back(ranks[c]);
    add_ring(ph, ring, per_node / static_cast<double>(channels), steps);
  }
  return ph;
}

}  // namespace

std::vector<FlowPhase> collective_flows(Collective c, const std::vector<int>& group, double bytes, int gpus_per_node) {
  if (gpus_per_node < 1 || bytes < 0) throw InternalError("collective_flows: bad node size or bytes");
  std::vector<FlowPhase> out;
  const size_t p = group.size();
  if (p < 2) return out;
  std::map<int, std::vector<int>> by_node;
  for (int d : group) by_node[d / gpus_per_node].push_back(d);
  std::vector<std::vector<int>> local;
  std::vector<int> ordered;  // members by node, then id
  for (auto& [node, ranks] : by_node) {
    local.push_back(ranks);
    ordered.insert(ordered.end(), ranks.begin(), ranks.end());
  }
  const double m = static_cast<double>(local.size());
  const int node_steps = static_cast<int>(local.size()) - 1;
  auto push = [&](FlowPhase ph) {
    if (!ph.flows.empty()) out.push_back(std::move(ph));
  };
  switch (c) {
    case Collective::kSendRecv: {
      FlowPhase ph;
      add_ring(ph, ordered, bytes, 1);
      push(ph);
      break;
    }
    case Collective::kBroadcast: {  // pipelined chain from the first member
      FlowPhase ph;
      ph.splittable = false;
      for (size_t i = 0; i + 1 < p; ++i) ph.flows.push_back({ordered[i], ordered[i + 1], bytes, static_cast<int>(p) - 1});
      push(ph);
      break;
    }
    case Collective::kAllReduce:
      if (local.size() == 1) {
        push(intra_phase(local, bytes));  // reduce-scatter
        push(intra_phase(local, bytes));  // all-gather
      } else {
        push(intra_phase(local, bytes));
        push(inter_phase(local, 2 * (m - 1) / m * bytes, 2 * node_steps));
        push(intra_phase(local, bytes));
      }
      break;
    case Collective::kReduceScatter:
      push(intra_phase(local, bytes));
      if (local.size() > 1) push(inter_phase(local, (m - 1) / m * bytes, node_steps));
      break;
    case Collective::kAllGather:
      if (local.size() > 1) push(inter_phase(local, (m - 1) / m * bytes, node_steps));
      push(intra_phase(local, bytes));
      break;
  }
  return out;
}

namespace {

// The group by node (ascending), and NCCL's view of its shape.
struct Shape {
  std::vector<std::vector<int>> local;
  NcclTopology topo;
  bool shared_nic = true;  // one NIC per node: every member's network route is the same
};
Shape shape_of(const std::vector<int>& group, const Cluster& cluster) {
  std::map<int, std::vector<int>> by_node;
  for (int d : group) by_node[d / cluster.gpus_per_node].push_back(d);
  Shape s;
  for (auto& [node, ranks] : by_node) s.local.push_back(ranks);
  s.shared_nic = cluster.nic == NicPlacement::kPerNode;
  std::vector<int> members;
  members.reserve(s.local.size());
  for (const std::vector<int>& r : s.local) members.push_back(static_cast<int>(r.size()));
  s.topo = nccl_topology(cluster, members);
  return s;
}

// Node a's crossing to node b, carrying `bytes` at `rate`. With a NIC per GPU: flows from every
// member of a to the member of b at the same position (the rails; nodes with fewer members use
// the rails they have). With one NIC per node, whose route every member shares: one flow, the
// channels being its rate rather than a flow each (8 flows on one route cost SimGrid's solver 4x
// the time at 1,024 GPUs; under contention the crossing now takes one share of the NIC, not 8).
void rails(FlowPhase& ph, const std::vector<int>& a, const std::vector<int>& b, double bytes, double rate,
           bool shared_nic) {
  if (shared_nic) {
    ph.flows.push_back({a.back(), b.front(), bytes, 1, rate});
    return;
  }
  const size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) ph.flows.push_back({a[i], b[i], bytes / n, 1, rate / n});
}

}  // namespace

namespace {

// The profile's measurement of the collective on this group's shape, if it holds one.
std::optional<MeasuredTime> measured(Collective c, const Shape& s, double bytes, const Cluster& cluster) {
  if (!cluster.measured_collectives) return std::nullopt;
  return cluster.measured_collectives->lookup(c, s.topo.ranks, s.topo.nodes, s.topo.most_per_node, bytes);
}

// The algorithm a measured curve names ("" when NCCL chose: the model's choice stands in).
NcclAlgo algo_named(const std::string& name, NcclAlgo chosen) {
  for (NcclAlgo a : {NcclAlgo::kTree, NcclAlgo::kRing, NcclAlgo::kNvls, NcclAlgo::kNvlsTree, NcclAlgo::kPat})
    if (name == nccl_algo_name(a)) return a;
  return chosen;
}

// One pipelined phase whose flows follow `algo`'s pattern -- a flat ring through every rank
// (node crossings: see rails()), a chain inside each node and the double binary tree's load
// across nodes, or NVLink SHARP's each-GPU-to-the-switch -- each capped at the rate that moves its
// bytes in size / algbw, after `latency_s`. algbw <= 0: the links decide.
FlowPhase pattern_phase(Collective c, const Shape& s, double bytes, NcclAlgo algo, double latency_s, double algbw) {
  const double n = static_cast<double>(s.topo.ranks);
  FlowPhase ph;
  ph.splittable = false;
  ph.latency_s = latency_s;
  const auto rate = [&](double per_edge) { return algbw > 0 ? per_edge / bytes * algbw : 0.0; };
  auto edge = [&](int src, int dst, double per_edge) { ph.flows.push_back({src, dst, per_edge, 1, rate(per_edge)}); };
  auto node_edge = [&](size_t a, size_t b, double per_edge) {
    rails(ph, s.local[a], s.local[b], per_edge, rate(per_edge), s.shared_nic);
  };
  auto ring = [&](double per_edge) {  // a flat ring through every rank, node by node
    for (size_t a = 0; a < s.local.size(); ++a) {
      const std::vector<int>& r = s.local[a];
      for (size_t i = 0; i + 1 < r.size(); ++i) edge(r[i], r[i + 1], per_edge);
      if (s.local.size() == 1) edge(r.back(), r.front(), per_edge);
      else node_edge(a, (a + 1) % s.local.size(), per_edge);
    }
  };
  // Reduce up and broadcast down. Inside a node NCCL's tree is a chain carrying `bytes` each way
  // on every edge: 2(k-1) x bytes over k GPUs, spread here as a ring inside the node (each GPU's
  // NVLink 2(k-1)/k x bytes each way, where the chain's middle GPUs carry 2x and its ends 1x: k
  // flows, not 2(k-1)). Across nodes, NCCL's double binary tree (two trees with half the data
  // each; a node is interior in at most one) has every node send and receive 2(m-1)/m x bytes on
  // average over m nodes: that load, as one crossing from each node to the next (on two nodes
  // exactly the one edge both ways). The links' loads are the tree's; which node pairs they join
  // is the ring's, so a blocking leaf up-link sees fewer crossings than the tree's. (One binary
  // tree's own edges loaded interior nodes 3x and leaves 1x, and joined a group's NICs into one
  // set for SimGrid's solver: 102 s and 8.7 GiB to simulate 16,384 GPUs.)
  auto tree = [&](bool chains) {
    const auto share = [&](size_t members) {
      return 2.0 * static_cast<double>(members - 1) / static_cast<double>(members) * bytes;
    };
    if (chains)
      for (const std::vector<int>& r : s.local)
        if (r.size() > 1)
          for (size_t i = 0; i < r.size(); ++i) edge(r[i], r[(i + 1) % r.size()], share(r.size()));
    const size_t m = s.local.size();
    if (m > 1)
      for (size_t a = 0; a < m; ++a) node_edge(a, (a + 1) % m, share(m));
  };
  const double nsteps = c == Collective::kAllReduce ? 2 * (n - 1)
                        : (c == Collective::kAllGather || c == Collective::kReduceScatter) ? n - 1 : 1;
  switch (c == Collective::kSendRecv ? NcclAlgo::kRing : algo) {
    case NcclAlgo::kRing:
    case NcclAlgo::kPat:
      ring(c == Collective::kSendRecv || c == Collective::kBroadcast ? bytes : nsteps / n * bytes);
      break;
    case NcclAlgo::kTree: tree(true); break;
    case NcclAlgo::kNvls:
    case NcclAlgo::kNvlsTree:
      for (const std::vector<int>& r : s.local)  // each GPU to the switch and back (a GPU alone on its node: none)
        if (r.size() > 1)
          for (size_t i = 0; i < r.size(); ++i) edge(r[i], r[(i + 1) % r.size()], bytes);
      if (algo == NcclAlgo::kNvlsTree) tree(false);
      break;
  }
  return ph;
}

}  // namespace

double nccl_collective_s(Collective c, const std::vector<int>& group, double bytes, const Cluster& cluster) {
  if (group.size() < 2) return 0;
  const Shape s = shape_of(group, cluster);
  if (const std::optional<MeasuredTime> m = measured(c, s, bytes, cluster)) return m->time_s;
  return nccl_choice(c, s.topo, bytes, cluster).time_us * 1e-6;
}

std::vector<FlowPhase> collective_flows(Collective c, const std::vector<int>& group, double bytes, const Cluster& cluster) {
  std::vector<FlowPhase> out;
  if (group.size() < 2 || bytes <= 0) return out;
  const Shape s = shape_of(group, cluster);
  if (const std::optional<MeasuredTime> m = measured(c, s, bytes, cluster)) {
    // The measured time: its latency floor first, then flows capped to last the rest (a size
    // at or below the smallest measured moves at the links' speed after the floor).
    const double latency = std::min(m->floor_s, m->time_s), moving = m->time_s - latency;
    const NcclAlgo algo = algo_named(m->algorithm, nccl_choice(c, s.topo, bytes, cluster).algo);
    out.push_back(pattern_phase(c, s, bytes, algo, latency, moving > 0 ? bytes / moving : 0));
    return out;
  }
  if (cluster.collectives == CollectiveModel::kHierarchicalRing)
    return collective_flows(c, group, bytes, cluster.gpus_per_node);
  const NcclCost k = nccl_choice(c, s.topo, bytes, cluster);
  // size / algbw is the model's bandwidth term, after its latency.
  out.push_back(pattern_phase(c, s, bytes, k.algo, k.latency_us * 1e-6, k.algbw_GBps * 1e9));
  return out;
}

std::optional<PointToPoint> measured_point_to_point(int src, int dst, double bytes, const Cluster& cluster) {
  if (!cluster.measured_collectives || src == dst || bytes <= 0) return std::nullopt;
  const Shape s = shape_of({std::min(src, dst), std::max(src, dst)}, cluster);
  const std::optional<MeasuredTime> m = measured(Collective::kSendRecv, s, bytes, cluster);
  if (!m) return std::nullopt;
  const double latency = std::min(m->floor_s, m->time_s), moving = m->time_s - latency;
  return PointToPoint{latency, moving > 0 ? bytes / moving : 0};
}

std::vector<FlowPhase> expand_ring_steps(const std::vector<FlowPhase>& phases) {
  std::vector<FlowPhase> out;
  for (const FlowPhase& ph : phases) {
    if (!ph.splittable) {
      out.push_back(ph);
      continue;
    }
    int steps = 0;
    for (const Flow& f : ph.flows) steps = std::max(steps, f.steps);
    for (int s = 0; s < steps; ++s) {
      FlowPhase step;
      for (const Flow& f : ph.flows)
        if (s < f.steps) step.flows.push_back({f.src, f.dst, f.bytes / f.steps, 1});
      out.push_back(std::move(step));
    }
  }
  return out;
}

}  // namespace spindle
