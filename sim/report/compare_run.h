// `spindle-sim compare-run SIM RUN`: a simulated iteration (spindle-sim's <system>.trace.json,
// or its folder with :SYSTEM) against a measured one of the same plan (spindle-run --trace),
// both from one trace writer: iteration time, time per instruction kind (trace categories,
// summed over GPUs) and per compute slice (matched by GPU, MetaOp, layers, rows, direction)
// with their errors; or an HTML page with both Gantt charts on one time axis.
#pragma once

#include <string>
#include <vector>

namespace spindle {

struct SliceError {
  int gpu = 0;
  std::string name;  // the trace's slice name ("task / M3 vision / layers 0-5 / fwd")
  double simulated_ms = 0, measured_ms = 0;
  double error() const;  // (simulated - measured) / measured
};

struct RunComparison {
  std::string scenario, system;
  double simulated_ms = 0, measured_ms = 0;  // the iteration
  // Per category (trace order fwd, bwd, transfer, sync, tp): total simulated and measured ms.
  std::vector<std::string> kinds;
  std::vector<double> kind_simulated_ms, kind_measured_ms;
  std::vector<SliceError> slices;  // every compute slice, by GPU, name, rows and occurrence
  double median_abs_slice_error() const;
  const SliceError* worst_slice() const;  // null without slices
};

// Throws InputError naming the file for an unreadable trace, a trace of the wrong kind (SIM
// must be simulated, RUN measured), or traces of different scenarios or compute slices (the
// plan's; the run may name its plan by file rather than system).
RunComparison compare_run(const std::string& sim, const std::string& run);
std::string compare_run_text(const RunComparison& c);

// An HTML page: both iterations' Gantt charts on one time axis (the longer iteration's), the
// simulated above the measured, then the tables of compare_run_text. SIM must be a spindle-sim
// folder (or a trace inside one: the charts need its summary.json and plan). Throws InputError.
std::string compare_run_html(const std::string& sim, const std::string& run, const RunComparison& c);

}  // namespace spindle
