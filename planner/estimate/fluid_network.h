// The cluster's network as the planner's estimate sees it: the same links as the simulator's
// SimGrid platform (sim/replay/simgrid_platform.cpp: each GPU's split-duplex NVLink link, a NIC
// per node or per GPU, a leaf up-link per leaf, all with their efficiencies) and the same
// sharing rule (CM02: max-min fair rates over the links a flow crosses, a route's latency paid
// before its bytes move), solved in closed form between events instead of by SimGrid.
#pragma once

#include <cstdint>
#include <vector>

#include "planner/config/scenario.h"

namespace spindle {

class FluidNetwork {
 public:
  explicit FluidNetwork(const Cluster& cluster);

  // The links a flow from GPU `src` to GPU `dst` crosses (ids into capacity()), and its
  // latency: NVLink up and down inside a node; NIC up, leaf up-links where the nodes sit under
  // different leaves, NIC down across nodes.
  struct Route {
    int links[4] = {-1, -1, -1, -1};
    int count = 0;
    double latency_s = 0;
  };
  Route route(int src, int dst) const;

  const std::vector<double>& capacity() const { return capacity_Bps_; }

  // Max-min fair rates (bytes/s) of flows sharing the links: `routes[i]` is the route of
  // `count[i]` flows (flows on one route always get one rate). Progressive filling: the link
  // with the smallest fair share fixes the rate of its flows, which then leave the others
  // their capacity; repeated until every flow has its rate.
  void fair_rates(const std::vector<const Route*>& routes, const std::vector<int>& count,
                  std::vector<double>& rates) const;

 private:
  const Cluster& cluster_;
  std::vector<double> capacity_Bps_;
  int nvlink_up_ = 0, nvlink_down_ = 0, nic_up_ = 0, nic_down_ = 0, leaf_up_ = 0, leaf_down_ = 0;
  // Scratch for fair_rates (the estimate is single-threaded per network).
  mutable std::vector<double> left_;
  mutable std::vector<int> unfixed_;
  mutable std::vector<std::vector<int>> flows_of_;
  mutable std::vector<int> touched_;
  mutable std::vector<char> fixed_;
  mutable std::vector<std::pair<double, int>> heap_;
};

}  // namespace spindle
