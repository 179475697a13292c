// One simulated scenario as the report reads it back from its output folder: summary.json
// (systems, MetaOps with their sampled T_m(n)), each <system>.plan.json (waves) and each
// <name>.trace.json (every GPU's compute, transfer and sync intervals). The pictures, the
// HTML report and `spindle-sim compare` work from these files alone, so a report can be
// rebuilt from any finished run or from the shards of a study.
#pragma once

#include <filesystem>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "planner/cost/scaling_curve.h"

namespace spindle {

enum class BarKind { kForward, kBackward, kTransfer, kSync };

struct Bar {  // one interval of one GPU's compute stream
  int gpu = 0;
  BarKind kind = BarKind::kForward;
  int metaop = -1;  // compute only
  int first_layer = 0;
  double start_s = 0, end_s = 0;
  std::string name;
};

struct SystemRun {
  std::string name;       // "spindle", "spindle.sequential-placement" (file and row name)
  std::string system;     // the planner
  std::string placement;  // "spindle" or "sequential-placement"
  double planned_s = 0, simulated_s = 0, speedup = 0;  // speedup 0: no sequential baseline
  double compute_s = 0, transfer_s = 0, sync_s = 0, idle_s = 0, utilization = 0;
  int waves = 0;
  double healthy_s = 0;  // [faults]: the same system on the healthy cluster (0 without faults)
  std::string trace;  // file name in the folder ("" when none)
  std::vector<Bar> bars;                     // from the trace, by GPU then time
  std::vector<double> forward_wave_s;        // simulated start of each wave's forward (plan order)
  std::vector<double> backward_wave_s;       // simulated start of each wave's backward
};

struct MetaOpInfo {
  int id = 0;
  std::string label;  // "M3 vision layer x24 [8, 257, 768]"
  std::vector<int> tasks;
  int layers = 0;
  double batch = 0;
  std::vector<CurvePoint> points;
};

struct RunResults {
  std::filesystem::path dir;
  std::string scenario, scenario_file;
  int nodes = 0, gpus_per_node = 0, gpus = 0;
  std::vector<std::string> tasks;
  std::vector<MetaOpInfo> metaops;
  std::vector<SystemRun> systems;  // in summary order
  std::string verdict;             // who wins and why (sim_report.h's verdict_line)
  bool faults = false;             // a [faults] run: systems carry their healthy times
  std::string faults_description;  // "node 7 failed; GPU 4 2x slower"
  int healthy_gpus = 0;
  const SystemRun* find(const std::string& name) const;
  // Per MetaOp the GPU-seconds of its compute (forward + backward) in a system's trace.
  std::map<int, double> metaop_gpu_s(const SystemRun& s) const;
};

// Reads DIR/summary.json (a simulated run) and, when the run has at most `bars_up_to_gpus`
// GPUs, the plan and trace files it names (0: the summary only). Throws InputError when a file
// is missing or not what spindle-sim writes.
RunResults read_run(const std::filesystem::path& dir, int bars_up_to_gpus = std::numeric_limits<int>::max());

// `sim` of run `r` as a measured iteration of the same plan drew it: its bars from `trace`
// (spindle-run --trace), its waves' starts from the plan file beside the summary, its time the
// measured iteration's, named "<name> (measured)". Throws InputError for an unreadable trace.
SystemRun measured_system(const RunResults& r, const SystemRun& sim, const std::filesystem::path& trace,
                          double measured_s);

// Colour index of a MetaOp: its task, or -1 when several tasks share it.
int task_colour(const MetaOpInfo& m);

}  // namespace spindle
