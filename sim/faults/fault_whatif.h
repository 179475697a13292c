// Fault what-ifs: a scenario's `[faults]` (planner/config/faults.h) answered by planning and
// simulating every system three ways: on the healthy cluster, on what the faults leave with
// stragglers in place (the run spindle-sim writes out), and, when there are stragglers, with
// their nodes drained as well; each system's slowdown against the healthy cluster, and which
// way of handling the stragglers is faster.
#pragma once

#include <string>
#include <vector>

#include "planner/config/scenario.h"
#include "planner/program/replay_result.h"
#include "sim/replay/network_sim.h"

namespace spindle {

struct Profile;

struct FaultRow {
  std::string system;
  double healthy_s = 0;
  double faulted_s = 0;   // stragglers in place
  double drained_s = -1;  // stragglers' nodes drained (< 0: no such variant)
};

struct FaultComparison {
  std::string description;  // Faults::describe
  int healthy_gpus = 0, faulted_gpus = 0;
  int drained_gpus = 0;     // 0: no variant (no stragglers, or draining leaves no node)
  std::string drained_note; // why there is no drained variant, when stragglers have none
  std::vector<FaultRow> rows;
};

// `as_written` is the scenario with its faults; `names`/`faulted` the run already simulated on
// what they leave (simulated_name order). Systems missing from either side are left out.
FaultComparison compare_faults(const Scenario& as_written, const std::vector<std::string>& systems,
                               const std::vector<std::string>& names, const std::vector<ReplayResult>& faulted,
                               const Profile* profile, const NetworkOptions& net);

// A table for summary.txt and the terminal.
std::string faults_text(const FaultComparison& f);

// Adds `faults` {description, gpus_healthy, gpus_left, gpus_drained, systems: [{name, healthy_s,
// simulated_s, slowdown, drained_s, drained_slowdown, stragglers}]} to the summary JSON.
std::string merge_faults_json(const std::string& summary_json, const FaultComparison& f);

}  // namespace spindle
