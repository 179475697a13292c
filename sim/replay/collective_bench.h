// The collective microbenchmark: one collective on the first N GPUs of the simulated cluster
// at nccl-tests' sizes (8 B .. 8 GiB by factor 2), with nccl-tests' algbw and busbw, so a
// user can hold it against all_reduce_perf (and friends) on their own machines.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "planner/cost/collective_cost.h"
#include "sim/replay/network_sim.h"

namespace spindle {

struct BenchRow {
  std::int64_t bytes = 0;  // nccl-tests' size
  double time_s = 0;
  double algbw_GBps = 0, busbw_GBps = 0;
};

// Throws InputError when `gpus` is not 2..the cluster's GPUs. Runs in one child process.
std::vector<BenchRow> bench_collective(const Cluster& cluster, Collective c, int gpus, const NetworkOptions& options);
// The same at the sizes given.
std::vector<BenchRow> bench_collective(const Cluster& cluster, Collective c, int gpus, const NetworkOptions& options,
                                       const std::vector<std::int64_t>& sizes);

// "all_reduce" -> Collective (nccl-tests names; "sendrecv" too); throws InputError naming `flag`.
Collective parse_collective(const std::string& name, const std::string& flag);

// Which collective model runs, for reports: "as NCCL's tuner runs them[, NCCL_ALGO=x]" or "as a
// hierarchical ring, one flow per rank per phase | every ring step a flow".
std::string collective_model_text(const Cluster& c, const NetworkOptions& options);

std::string bench_text(const Scenario& s, Collective c, int gpus, const std::vector<BenchRow>& rows,
                       const NetworkOptions& options);
std::string bench_json(const Scenario& s, Collective c, int gpus, const std::vector<BenchRow>& rows);

}  // namespace spindle
