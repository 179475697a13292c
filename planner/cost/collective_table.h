// Measured collective times (a profile's /collectives, as spindle-calibrate writes them from
// nccl-tests-style runs), looked up by collective, group shape and size. Where a profile holds
// the collective on the same shape (ranks, nodes, ranks on the fullest node), the planner and
// the simulator take its time instead of the model's (collective_flows.h).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "planner/config/scenario.h"
#include "planner/cost/collective_cost.h"
#include "traces/profile.h"

namespace spindle {

struct MeasuredTime {
  double time_s = 0;     // the collective at the size asked for
  double floor_s = 0;    // at the smallest size measured: its latency, to the model
  std::string algorithm; // the algorithm of the curve used ("" when NCCL chose)
};

class CollectiveTable {
 public:
  // Every measurement of the profile, one curve per collective, shape and algorithm.
  explicit CollectiveTable(const Profile& profile);

  // The time at `bytes` on the shape, or nullopt where the profile has no measurement of it.
  // Between measured sizes: linear in size (each segment an alpha-beta fit of its two ends);
  // below the smallest: the smallest's time (the latency floor); above the largest: the
  // largest's bandwidth (time in proportion to size). Rows NCCL chose the algorithm for win;
  // with only forced algorithms, the fastest at that size (what NCCL's tuner aims for).
  std::optional<MeasuredTime> lookup(Collective c, int ranks, int nodes, int ranks_per_node, double bytes) const;

  bool empty() const { return curves_.empty(); }
  const std::string& source() const { return source_; }

 private:
  struct Curve {
    std::string algorithm;
    std::vector<std::pair<double, double>> points;  // bytes, seconds; ascending bytes
    double at(double bytes) const;
  };
  std::string source_;
  std::map<std::tuple<Collective, int, int, int>, std::vector<Curve>> curves_;
};

// Gives the scenario's cluster the profile's collectives (none: nothing changes); a profile of
// another GPU is an InputError naming it.
void use_measured_collectives(Scenario& s, const Profile& profile);

// The collective a profile names ("all_reduce", ...); nullopt for another name.
std::optional<Collective> collective_from_name(const std::string& name);

}  // namespace spindle
