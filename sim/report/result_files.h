// Results for scripts: a CSV with one row per simulated system and an HDF5 file with every
// GPU's busy intervals by kind, the per-system summary and the scenario text (layout in the
// README, "Results files"). Both hold only simulated figures (no wall clock; HDF5 objects
// carry no times), so the same inputs give the same bytes; both are written to a temporary
// file and renamed.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "planner/program/replay_result.h"
#include "planner/report/plan_report.h"

namespace spindle {

// Header + one row per system: name, placement, planned and simulated seconds, per-GPU means
// (compute, forward, backward, transfer, sync, idle), GPU utilization, peak memory, flows,
// events. Numbers in shortest exact form.
std::string results_csv(const std::vector<PlannedSystem>& systems, const std::vector<std::string>& names,
                        const std::vector<ReplayResult>& results);

// Writes results.h5 (see README). `scenario_text`: the scenario file and its overrides.
// Throws IoError naming the file.
void write_results_h5(const std::filesystem::path& path, const std::string& scenario_text,
                      const std::vector<PlannedSystem>& systems, const std::vector<std::string>& names,
                      const std::vector<ReplayResult>& results);

// timing.json: the wall-clock figures of a run, kept out of every other file: each system's
// planning seconds and the simulation's (all systems side by side; < 0: not simulated).
std::string timing_json(const std::vector<PlannedSystem>& systems, double simulation_s);

}  // namespace spindle
