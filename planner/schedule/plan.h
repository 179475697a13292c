// A plan: which MetaOp slices run on how many devices, when, wave by wave. Every slice
// carries its own planned start and end (a slice of l layers on n devices takes l x T_m(n)),
// so schedules without global wave barriers are expressible too. Planned times leave out
// communication: the simulator adds it.
#pragma once

#include <cstdint>
#include <map>
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
  int n = 0;           // devices: dp() data-parallel groups of tp
  double start_s = 0;
  double end_s = 0;
  std::vector<int> devices;  // filled by placement; empty until then
  int tp = 1;  // TP degree, slice_tp(n, the component's degree): devices [k tp, (k+1) tp) form group k
  // Lowering's order key: the start a plan file was written with, which a reader keeps whatever
  // its cost model re-times (a profile or none), so that spindle-sim --plan and spindle-run
  // --plan lower the same file to the same programs; -1 (a plan made in this process): start_s.
  double order_s = -1;
  int layers() const { return last_layer - first_layer; }
  int dp() const { return n / tp; }
};

struct Wave {
  double start_s = 0;
  double end_s = 0;
  std::vector<Slice> slices;
};

// How a plan's weight gradients are synced, as the framework a system stands for does it
// (README "Weight sync"): each weight group's gradients join a bucket of its device group in
// the order they become ready in the backward; a bucket closes once it holds its cap, and is
// all-reduced (or reduce-scattered under ZeRO-1) as soon as its last gradient is ready,
// overlapping the rest of the backward. Weights used by several tasks are ready after the
// last backward that uses them (gradients accumulate across tasks; one optimizer step).
struct SyncPolicy {
  std::string framework;               // whose settings, for people: "Megatron-LM", "PyTorch DDP", ...
  std::int64_t bucket_params = 0;      // a bucket's cap in parameters; 0: one bucket per device group
  std::int64_t bucket_params_per_rank = 0;  // Megatron-LM: the cap is max(bucket_params, this x ranks)
  std::int64_t first_bucket_params = 0;     // PyTorch DDP: a smaller first bucket (0: none)
  int grad_bytes = 4;                  // bytes per gradient element reduced (fp32 4, bf16 2)
  std::int64_t cap_params(int ranks) const;
  std::string text() const;            // one line: framework, cap, dtype
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
  SyncPolicy sync;                 // weight-gradient sync settings
  double peak_slice_GiB = 0;       // largest per-device memory of one slice (its layers alone)
  std::map<std::string, int> tp;   // the TP layout it was planned with (component -> degree; schedule/tp_layout.h)
  bool zero1 = false;              // optimizer state sharded over each weight-sync group (ZeRO-1), as planned

  void finish();  // sets planned_s from the slices
};

// Records the cost model's TP layout and ZeRO-1 setting in the plan and each slice's degree.
void apply_layout(Plan& plan, const CostModel& cost);

// The TP degree of a slice of `n` devices of a component at degree `layout_tp`: the degree, or
// n below it (the layout's shards nest onto n GPUs, tp / n each; n must then divide it).
inline int slice_tp(int n, int layout_tp) { return n >= layout_tp ? layout_tp : n; }

// The per-device memory of the largest slice: its layers' weights, gradients, optimizer state
// and stored activations at its local batch, plus workspace. Placement (a later issue) adds
// what several slices on one device hold together; a slice above the GPU's memory cannot run.
double peak_slice_GiB(const Plan& plan, const Scenario& s, const Graph& g, const MetaGraph& mg);

// The first rule `plan` breaks, or "" when it is sound: every MetaOp's layers scheduled
// exactly once in layer order, valid device counts, slice durations = layers x T(n), never
// more than the plan's GPUs at once, dependencies respected in planned time.
std::string check_plan(const Plan& plan, const MetaGraph& mg, const CostModel& cost);

// Times derived from the allocation: every slice lasts layers x T(n), and starts at its stated
// start or, where that no longer holds, as soon after it as its MetaOp's earlier layers and
// predecessors are done and its devices (or, unplaced, enough devices) are free; slices are
// taken in order of stated start, so an edited plan keeps its order. Returns how many slices
// moved or changed length by more than a nanosecond; -1 (plan untouched) when a slice names
// no MetaOp, layers outside it or a device count that does not divide its batch.
int retime_plan(Plan& plan, const MetaGraph& mg, const CostModel& cost);

// The plan file (JSON; README.md, "Plan files"). No wall-clock figures: the same inputs give
// the same bytes.
std::string plan_json(const Plan& plan, const Scenario& s, const MetaGraph& mg);

// Reads a plan file back and validates it against the scenario: MetaOps must match, times are
// re-derived (retime_plan; stale ones are reported in one note, not refused), then
// check_plan. A plan's zero1 may differ from the scenario's planner.zero1 only when
// `other_zero1` (the cost model with the other setting) is given. Throws InputError naming the
// file and the first mismatch.
Plan read_plan(const std::string& file, const Scenario& s, const MetaGraph& mg, const CostModel& cost,
               const CostModel* other_zero1 = nullptr);

}  // namespace spindle
