// The planner grid of scripts/bench-planner (bench_planner_grid.cpp): every system on every
// zoo scenario over cluster sizes, networks and batch scales, estimated and (in part) simulated.
#pragma once

#include <string>
#include <vector>

namespace spindle {

struct GridOptions {
  std::vector<std::string> scenarios;
  std::vector<int> nodes = {1, 2, 4, 8};
  std::vector<std::string> nets = {"12.5", "25", "50", "nic/gpu"};
  std::vector<double> batches = {0.5, 1, 4};
  int parallel = 2;
};

// Prints the grid's table and its summary lines; returns 0.
int run_planner_grid(const GridOptions& options);

}  // namespace spindle
