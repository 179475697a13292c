// Published nccl-tests results as cited data files (tests/sim/nccl_tests/*.toml), and the
// table that holds them against the simulator and NCCL's own model (`spindle-sim SCENARIO
// --compare FILE`): the scenario with the file's cluster settings, the same collective on the
// same ranks at the measured sizes, the error of each per row.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "planner/config/scenario.h"
#include "planner/cost/collective_cost.h"
#include "sim/replay/network_sim.h"

namespace spindle {

struct MeasuredCollective {
  std::string file, source, date, what;
  Collective collective = Collective::kAllReduce;
  int ranks = 0;
  std::string algorithm;             // NCCL_ALGO the run forced ("" when NCCL chose)
  std::vector<std::string> set;      // cluster settings, as --set KEY=VALUE
  std::vector<std::pair<std::int64_t, double>> rows;  // nccl-tests size B, busbw GB/s
};

// Reads one file strictly (unknown keys, bad rows: InputError with file:line:col).
MeasuredCollective read_measured(const std::filesystem::path& file);

struct ComparedRow {
  std::int64_t bytes = 0;
  double measured_busbw = 0, simulated_busbw = 0, model_busbw = 0;
  std::string model_algo;  // "ring/LL"
};
struct Comparison {
  MeasuredCollective measured;
  std::vector<ComparedRow> rows;
  // Median and worst |error| of the simulator and of NCCL's model, over sizes >= 1 MiB
  // (bandwidth-bound) and below 64 KiB (latency-bound); -1 when no row falls there.
  double sim_median_big = -1, sim_worst_big = -1, model_median_big = -1, model_worst_big = -1;
  double sim_median_small = -1, sim_worst_small = -1, model_median_small = -1, model_worst_small = -1;
};

// `scenario_file` with the caller's overrides (`sets`, as --set gives them), then the
// measurement's settings; throws InputError for a bad file.
Comparison compare_measured(const std::filesystem::path& scenario_file, const MeasuredCollective& m,
                            const NetworkOptions& options, const std::vector<std::string>& sets = {});
std::string comparison_text(const Comparison& c);

}  // namespace spindle
