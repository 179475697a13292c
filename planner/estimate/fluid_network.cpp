// Links, routes and max-min fair sharing of the estimate's network (see fluid_network.h).
#include "planner/estimate/fluid_network.h"

#include <algorithm>
#include <limits>

#include "traces/errors.h"

namespace spindle {

FluidNetwork::FluidNetwork(const Cluster& c) : cluster_(c) {
  if (c.nodes < 1 || c.gpus_per_node < 1) throw InternalError("FluidNetwork: empty cluster");
  const int gpus = c.gpus();
  const bool per_gpu = c.nic == NicPlacement::kPerGpu;
  const double nvlink_Bps = c.intra_node.bw_GBps * 1e9 * c.intra_node.efficiency;
  const double node_Bps = c.inter_node.bw_GBps * 1e9 * c.inter_node.efficiency;
  const double nic_Bps = per_gpu ? node_Bps / c.gpus_per_node : node_Bps;
  const int nics = per_gpu ? gpus : c.nodes;
  const int leaves = (c.nodes + c.nodes_per_leaf - 1) / c.nodes_per_leaf;
  nvlink_up_ = 0;
  nvlink_down_ = gpus;
  nic_up_ = 2 * gpus;
  nic_down_ = nic_up_ + nics;
  leaf_up_ = nic_down_ + nics;
  leaf_down_ = leaf_up_ + leaves;
  capacity_Bps_.assign(static_cast<size_t>(leaf_down_ + leaves), 0.0);
  for (int g = 0; g < gpus; ++g) capacity_Bps_[static_cast<size_t>(nvlink_up_ + g)] = capacity_Bps_[static_cast<size_t>(nvlink_down_ + g)] = nvlink_Bps;
  for (int k = 0; k < nics; ++k)  // a slow node network (faults.h) slows each of its NICs
    capacity_Bps_[static_cast<size_t>(nic_up_ + k)] = capacity_Bps_[static_cast<size_t>(nic_down_ + k)] =
        nic_Bps / c.nic_factor(per_gpu ? k / c.gpus_per_node : k);
  for (int l = 0; l < leaves; ++l) {
    const int under = std::min(c.nodes_per_leaf, c.nodes - l * c.nodes_per_leaf);
    capacity_Bps_[static_cast<size_t>(leaf_up_ + l)] = capacity_Bps_[static_cast<size_t>(leaf_down_ + l)] =
        node_Bps * under / c.oversubscription;
  }
  flows_of_.resize(capacity_Bps_.size());
  left_.resize(capacity_Bps_.size());
  unfixed_.resize(capacity_Bps_.size());
}

FluidNetwork::Route FluidNetwork::route(int src, int dst) const {
  const int gpn = cluster_.gpus_per_node;
  const int na = src / gpn, nb = dst / gpn;
  Route r;
  if (na == nb) {
    r.links[0] = nvlink_up_ + src;
    r.links[1] = nvlink_down_ + dst;
    r.count = 2;
    r.latency_s = cluster_.intra_node.latency_us * 1e-6;
    return r;
  }
  const bool per_gpu = cluster_.nic == NicPlacement::kPerGpu;
  r.links[r.count++] = nic_up_ + (per_gpu ? src : na);
  const int la = na / cluster_.nodes_per_leaf, lb = nb / cluster_.nodes_per_leaf;
  if (la != lb) {
    r.links[r.count++] = leaf_up_ + la;
    r.links[r.count++] = leaf_down_ + lb;
  }
  r.links[r.count++] = nic_down_ + (per_gpu ? dst : nb);
  r.latency_s = cluster_.inter_node.latency_us * 1e-6;
  return r;
}

void FluidNetwork::fair_rates(const std::vector<const Usage*>& groups, const std::vector<double>& caps,
                              std::vector<double>& rates) const {
  rates.assign(groups.size(), 0.0);
  touched_.clear();
  // A capped group's rate is a private link of the cap's capacity, one flow on it (ids after
  // the real links), so progressive filling treats it like any bottleneck.
  const size_t real = capacity_Bps_.size();
  if (flows_of_.size() < real + groups.size()) {
    flows_of_.resize(real + groups.size());
    left_.resize(real + groups.size());
    unfixed_.resize(real + groups.size());
  }
  for (size_t f = 0; f < groups.size(); ++f) {
    for (const auto& [link, count] : *groups[f]) {
      const size_t l = static_cast<size_t>(link);
      if (flows_of_[l].empty()) {
        touched_.push_back(link);
        left_[l] = capacity_Bps_[l];
        unfixed_[l] = 0;
      }
      flows_of_[l].push_back(static_cast<int>(f));
      unfixed_[l] += count;
    }
    if (f < caps.size() && caps[f] > 0) {
      const size_t v = real + f;
      touched_.push_back(static_cast<int>(v));
      left_[v] = caps[f];
      unfixed_[v] = 1;
      flows_of_[v].push_back(static_cast<int>(f));
    }
  }
  // Links by fair share (capacity left / flows not yet fixed), smallest first; entries go
  // stale when a link's flows are fixed elsewhere and are skipped by comparing the share.
  // Shares only grow as flows are fixed, so the smallest entry is always the next bottleneck.
  heap_.clear();
  const auto later = [](const std::pair<double, int>& a, const std::pair<double, int>& b) { return a > b; };
  for (int l : touched_) heap_.push_back({left_[static_cast<size_t>(l)] / unfixed_[static_cast<size_t>(l)], l});
  std::make_heap(heap_.begin(), heap_.end(), later);
  fixed_.assign(groups.size(), 0);
  while (!heap_.empty()) {
    std::pop_heap(heap_.begin(), heap_.end(), later);
    const double share = heap_.back().first;  // not a structured binding: `take` captures it
    const int l = heap_.back().second;
    heap_.pop_back();
    const size_t li = static_cast<size_t>(l);
    if (unfixed_[li] == 0 || share != left_[li] / unfixed_[li]) continue;
    for (int f : flows_of_[li]) {
      if (fixed_[static_cast<size_t>(f)]) continue;
      fixed_[static_cast<size_t>(f)] = 1;
      rates[static_cast<size_t>(f)] = share;
      auto take = [&](size_t o, int count) {
        left_[o] = std::max(0.0, left_[o] - share * count);
        unfixed_[o] -= count;
        if (o != li && unfixed_[o] > 0) {
          heap_.push_back({left_[o] / unfixed_[o], static_cast<int>(o)});
          std::push_heap(heap_.begin(), heap_.end(), later);
        }
      };
      for (const auto& [link, count] : *groups[static_cast<size_t>(f)]) take(static_cast<size_t>(link), count);
      if (static_cast<size_t>(f) < caps.size() && caps[static_cast<size_t>(f)] > 0) take(real + static_cast<size_t>(f), 1);
    }
  }
  for (int l : touched_) flows_of_[static_cast<size_t>(l)].clear();
}

}  // namespace spindle
