// The report's pictures, as SVG text: a Gantt chart of one system's simulated iteration (GPUs as
// rows grouped by node, time across, compute coloured by task, backward darker, transfers and
// weight sync shaded, wave starts marked), GPU utilisation over time for every system of a
// run, the scaling curves T_m(n) of every MetaOp (sampled points and the fitted curve), and a
// line plot for sweeps (one line per system).
#pragma once

#include <string>
#include <vector>

#include "sim/report/run_results.h"

namespace spindle {

// `time_scale_s`: the time the x axis spans (the slowest system's iteration, so charts of one
// run share a scale). Every GPU's row is a <g class="gpu-row" data-gpu="ID">. `clock`:
// "simulated", or "measured" for an executed iteration (compare-run --html).
std::string gantt_svg(const RunResults& r, const SystemRun& s, double time_scale_s,
                      const std::string& clock = "simulated");

std::string utilization_svg(const RunResults& r);

std::string scaling_svg(const RunResults& r);

struct Series {
  std::string name;
  std::vector<std::pair<double, double>> points;  // (x, y), x in axis units
};
// x_labels: when not empty, x is categorical (x = 0, 1, ... labelled so).
std::string line_plot_svg(const std::string& title, const std::string& x_label, const std::string& y_label,
                          const std::vector<Series>& series, const std::vector<std::string>& x_labels = {},
                          bool y_from_zero = true);

}  // namespace spindle
