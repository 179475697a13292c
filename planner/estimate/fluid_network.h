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

  // A group of flows that move the same bytes and start and end together (a transfer, or the
  // flows of one collective phase): the links they cross and how many of them cross each.
  using Usage = std::vector<std::pair<int, int>>;  // (link, flows), each link once

  // Max-min fair rates (bytes/s per flow) of flow groups sharing the links, one rate per group:
  // a link carrying c flows of a group at rate r gives the group c x r of its capacity.
  // Progressive filling: the link with the smallest fair share fixes the rate of its groups,
  // which then leave the others their capacity; repeated until every group has its rate.
  // caps[g] > 0: group g's flows move no faster (its per-flow cap); caps may be shorter than groups.
  void fair_rates(const std::vector<const Usage*>& groups, const std::vector<double>& caps,
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
