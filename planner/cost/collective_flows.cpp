// Ring and hierarchical-ring decomposition of collectives into flows (see collective_flows.h).
#include "planner/cost/collective_flows.h"

#include <algorithm>
#include <map>

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
