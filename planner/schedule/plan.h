// A plan: which MetaOp slices run on how many devices, when, wave by wave. Every slice
// carries its own planned start and end (a slice of l layers on n devices takes l x T_m(n)),
// so schedules without global wave barriers are expressible too. Planned times leave out
// communication: the simulator adds it.
#pragma once

#include <string>
#include <vector>

#include "planner/config/scenario.h"
#include "planner/cost/cost_model.h"
#include "planner/graph/graph.h"
#include "planner/graph/metagraph.h"

namespace spindle {

inline constexpr int kPlanFormatVersion = 1;

struct Slice {
  int metaop = 0;
  int first_layer = 0;
  int last_layer = 0;  // exclusive
  int n = 0;           // devices
  double start_s = 0;
  double end_s = 0;
  std::vector<int> devices;  // filled by placement (a later issue); empty until then
  int layers() const { return last_layer - first_layer; }
};

struct Wave {
  double start_s = 0;
  double end_s = 0;
  std::vector<Slice> slices;
};

struct Plan {
  std::string system;
  int gpus = 0;
  std::vector<Wave> waves;
  double planned_s = 0;      // makespan: the latest slice end
  double cstar_s = 0;        // sum over MetaLevels of the level's C*
  double cstar_valid_s = 0;  // the same with valid device counts only (>= cstar_s)
  double lower_bound_s = 0;  // no plan of the scenario can be faster
  std::vector<std::string> notes;  // how the system decided what it did, for people
  std::string schedule_from;       // set when a planner took another system's schedule
  double peak_slice_GiB = 0;       // largest per-device memory of one slice (its layers alone)

  void finish();  // sets planned_s from the slices
};

// The per-device memory of the largest slice: its layers' weights, gradients, optimizer state
// and stored activations at its local batch, plus workspace. Placement (a later issue) adds
// what several slices on one device hold together; a slice above the GPU's memory cannot run.
double peak_slice_GiB(const Plan& plan, const Scenario& s, const Graph& g, const MetaGraph& mg);

// The first rule `plan` breaks, or "" when it is sound: every MetaOp's layers scheduled
// exactly once in layer order, valid device counts, slice durations = layers x T(n), never
// more than the plan's GPUs at once, dependencies respected in planned time.
std::string check_plan(const Plan& plan, const MetaGraph& mg, const CostModel& cost);

// The plan file (JSON; README.md, "Plan files"). No wall-clock figures: the same inputs give
// the same bytes.
std::string plan_json(const Plan& plan, const Scenario& s, const MetaGraph& mg);

// Reads a plan file back and validates it against the scenario (MetaOps must match, then
// check_plan). Throws InputError naming the file and the first mismatch.
Plan read_plan(const std::string& file, const Scenario& s, const MetaGraph& mg, const CostModel& cost);

}  // namespace spindle
