// What `spindle-sim` reports about simulated iterations: per system the simulated iteration
// time, its speedup over `sequential`, planned vs simulated, the split of every GPU's time into
// compute / transfer / weight sync / idle (means over GPUs), the mean GPU utilisation and the
// peak memory per GPU; as a text table, and merged into the JSON summary's `systems` list.
#pragma once

#include <string>
#include <vector>

#include "planner/program/replay_result.h"
#include "planner/report/plan_report.h"
#include "sim/replay/network_sim.h"

namespace spindle {

// Means over GPUs of one simulated iteration.
struct SimSummary {
  double simulated_s = 0;
  double compute_s = 0, forward_s = 0, backward_s = 0, transfer_s = 0, sync_s = 0, idle_s = 0;
  double utilization() const { return simulated_s > 0 ? compute_s / simulated_s : 0; }
};
SimSummary summarize(const ReplayResult& r);

// `systems[i]` was simulated as `results[i]`; `traces[i]` is its trace file ("" for none).
std::string simulation_text(const Scenario& s, const std::vector<PlannedSystem>& systems,
                            const std::vector<ReplayResult>& results, const std::vector<std::string>& traces,
                            const NetworkOptions& options);

// Adds to each entry i of the summary JSON's `systems`: simulated_s, speedup_vs_sequential,
// compute_s, forward_s, backward_s, transfer_s, sync_s, idle_s, gpu_utilization, trace; and
// top-level `network` (the simulated topology) and `verdict` (verdict_line). Returns the
// re-rendered JSON.
std::string merge_simulation_json(const std::string& summary_json, const Scenario& s,
                                  const std::vector<ReplayResult>& results, const std::vector<std::string>& traces,
                                  const NetworkOptions& options);

// One line saying who wins and why: "uniform is 1.06x faster than spindle: weight sync 8.7
// vs 29.6 ms" or "spindle is the fastest: 1.05x over uniform (idle 3.1 vs 5.0 ms)", comparing
// with the fastest other system whose plan fits in memory (and naming faster ones that do
// not, and the system whose plan spindle runs when it is not its own); "" without a spindle
// row or another system. `rows`: each system (ablation rows and
// plans read from files left out by the caller).
struct VerdictRow {
  std::string name;
  SimSummary sim;
  bool fits = true;  // within every GPU's memory
  std::string from;  // the system whose plan it runs (spindle's schedule_from), "" for its own
};
std::string verdict_line(const std::vector<VerdictRow>& rows);

// The name a system's row and trace go by ("spindle", "spindle.sequential-placement").
std::string simulated_name(const PlannedSystem& ps);

}  // namespace spindle
