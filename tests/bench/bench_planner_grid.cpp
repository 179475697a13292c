// Issue 17's grid: every zoo scenario (h100-* included) at 1, 2, 4 and 8 nodes, with a
// network of 12.5, 25 or 50 GB/s per node or one 50 GB/s NIC per GPU, and task batches x0.5,
// x1 and x4. Per configuration: every system's estimated iteration (the planner's estimate,
// which spindle optimizes) and, for one configuration in four and wherever spindle's estimated
// lead over the best other system is under 2%, every system's SimGrid iteration; spindle's
// ratio to the best other system, whose plan spindle took, the estimate's error, spindle's
// weight-sync share and the planning time. Configurations run two at a time in child processes.
#include "tests/bench/bench_planner_grid.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <cstdio>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "planner/pipeline.h"
#include "sim/replay/process_pool.h"
#include "sim/replay/simulation.h"
#include "sim/report/sim_report.h"
#include "traces/text_table.h"

namespace spindle {
namespace {

struct Config {
  std::string scenario;
  int nodes = 1;
  std::string net;  // "12.5", "25", "50" (GB/s per node) or "nic/gpu"
  double batch = 1;
};

struct Row {
  Config c;
  int gpus = 0;
  std::vector<double> estimated, simulated;  // per system (simulated empty: not simulated)
  std::string from;                           // spindle's plan: "own" or the system it took
  double spindle_sync_share = 0;              // of its iteration (simulated, else estimated)
  double planning_s = 0;
};

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string part; std::getline(in, part, sep);) out.push_back(part);
  return out;
}

std::string hex(double x) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%a", x);
  return buf;
}

std::string run_config(const Config& c, bool always_simulate) {
  LoadOptions o;
  o.overrides = {"cluster.nodes=" + std::to_string(c.nodes)};
  if (c.net == "nic/gpu") {
    o.overrides.push_back("cluster.nic=\"per_gpu\"");
    o.overrides.push_back("cluster.inter_node.bw_GBps=400");
  } else {
    o.overrides.push_back("cluster.inter_node.bw_GBps=" + c.net);
  }
  const std::filesystem::path file = default_data_dir() / (c.scenario + ".toml");
  const Scenario base = load_scenario(file, o);
  for (size_t k = 0; k < base.tasks.size(); ++k) {
    const int b = std::max(1, static_cast<int>(base.tasks[k].batch * c.batch));
    o.overrides.push_back("tasks." + std::to_string(k) + ".batch=" + std::to_string(b));
  }
  const ScenarioModel m(load_scenario(file, o));
  const auto t0 = std::chrono::steady_clock::now();
  const std::vector<PlannedSystem> planned = plan_systems(m, system_names());
  const double planning_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  double best_other = 1e300;
  for (size_t i = 1; i < planned.size(); ++i)
    if (planned[i].placement.over_memory_devices == 0) best_other = std::min(best_other, planned[i].estimated_s);
  const bool simulate_it = always_simulate || planned[0].estimated_s > best_other * 0.98;
  std::vector<ReplayResult> results;
  if (simulate_it) {
    std::vector<Programs> programs;
    for (const PlannedSystem& ps : planned) programs.push_back(lower_checked(m, ps.plan));
    results = simulate(m, programs, NetworkOptions{});
  }
  std::string out = std::to_string(m.s.cluster.gpus());
  for (const PlannedSystem& ps : planned) out += "\t" + hex(ps.estimated_s);
  out += "\t";
  for (size_t i = 0; i < results.size(); ++i) out += (i ? "," : "") + hex(results[i].iteration_s);
  const PlannedSystem& sp = planned[0];
  const double sync = results.empty() ? sp.estimated_sync_s : summarize(results[0]).sync_s;
  const double iter = results.empty() ? sp.estimated_s : results[0].iteration_s;
  out += "\t" + (sp.plan.schedule_from.empty() ? std::string("own") : sp.plan.schedule_from);
  out += "\t" + std::to_string(sync / iter) + "\t" + std::to_string(planning_s) + "\t";
  for (const PlannedSystem& ps : planned) out += ps.placement.over_memory_devices > 0 ? "!" : "-";
  return out;
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

}  // namespace

int run_planner_grid(const GridOptions& options) {
  std::vector<Config> configs;
  for (const std::string& sc : options.scenarios)
    for (int nodes : options.nodes)
      for (const std::string& net : options.nets)
        for (double b : options.batches) configs.push_back({sc, nodes, net, b});
  std::vector<std::function<std::string()>> jobs;
  for (size_t i = 0; i < configs.size(); ++i)
    jobs.push_back([&, i] { return run_config(configs[i], i % 4 == 0); });
  const auto t0 = std::chrono::steady_clock::now();
  const std::vector<std::string> lines = run_in_children(jobs, options.parallel);
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  const std::vector<std::string>& names = system_names();
  TextTable t;
  for (const char* h : {"scenario", "nodes", "net GB/s", "batch", "GPUs"}) t.add_column(h, TextTable::Align::kRight);
  for (const std::string& n : names) t.add_column(n + " ms", TextTable::Align::kRight);
  for (const char* h : {"sim", "spindle/best other", "best other", "spindle's plan", "max |est err|", "sync share",
                        "planning s"})
    t.add_column(h, TextTable::Align::kRight);
  std::vector<double> errors, own_gain, ratios;
  int own = 0, taken = 0, simulated = 0, behind = 0;
  std::string behind_list;
  for (size_t i = 0; i < configs.size(); ++i) {
    const Config& c = configs[i];
    const std::vector<std::string> f = split(lines[i], '\t');
    std::vector<double> est, sim;
    for (size_t k = 0; k < names.size(); ++k) est.push_back(std::stod(f[1 + k]));
    for (const std::string& x : split(f[1 + names.size()], ',')) sim.push_back(std::stod(x));
    const bool has_sim = !sim.empty();
    const std::vector<double>& v = has_sim ? sim : est;
    // The best other system among those whose plans fit in memory (all, when none does).
    const std::string fits = f[5 + names.size()];
    bool any_fits = false;
    for (size_t k = 1; k < names.size(); ++k) any_fits = any_fits || fits[k] == '-';
    size_t best = 0;
    for (size_t k = 1; k < names.size(); ++k)
      if ((!any_fits || fits[k] == '-') && (best == 0 || v[k] < v[best])) best = k;
    const double ratio = v[0] / v[best];
    ratios.push_back(ratio);
    double max_err = 0;
    if (has_sim)
      for (size_t k = 0; k < names.size(); ++k) {
        const double e = est[k] / sim[k] - 1;
        errors.push_back(std::abs(e));
        max_err = std::max(max_err, std::abs(e));
      }
    simulated += has_sim;
    const std::string from = f[2 + names.size()];
    if (from == "own") {
      ++own;
      own_gain.push_back(v[best] / v[0]);
    } else {
      ++taken;
    }
    if (ratio > 1.01) {
      ++behind;
      behind_list += "  " + c.scenario + " " + std::to_string(c.nodes) + " nodes " + c.net + " x" + fixed(c.batch, 1) +
                     ": " + fixed(ratio, 3) + " (" + (has_sim ? "simulated" : "estimated") + ")\n";
    }
    std::vector<std::string> row = {c.scenario, std::to_string(c.nodes), c.net, "x" + fixed(c.batch, 1), f[0]};
    for (size_t k = 0; k < names.size(); ++k) row.push_back(fixed(v[k] * 1e3, 2) + (fits[k] == '!' ? " !" : ""));
    row.push_back(has_sim ? "yes" : "est");
    row.push_back(fixed(ratio, 3));
    row.push_back(names[best]);
    row.push_back(from);
    row.push_back(has_sim ? fixed(100 * max_err, 2) + "%" : "-");
    row.push_back(fixed(100 * std::stod(f[3 + names.size()]), 1) + "%");
    row.push_back(fixed(std::stod(f[4 + names.size()]), 2));
    t.add_row(row);
  }
  std::printf("Planner grid: %zu configurations (%d simulated on SimGrid, the rest by the planner's estimate), %.0f s wall "
              "on %d processes\n%s",
              configs.size(), simulated, wall, options.parallel, t.render().c_str());
  std::printf("spindle/best other: spindle's iteration over the fastest other system whose plan fits in memory "
              "(simulated where simulated); !: the plan does not fit in the GPUs' memory; spindle's plan: its own or "
              "the system whose plan it took\n");
  std::printf("spindle's own plan: %d of %zu; another system's: %d; gain of its own plans over the best other system: "
              "median %.3fx, worst %.3fx\n",
              own, configs.size(), taken, median(own_gain), own_gain.empty() ? 0.0 : *std::min_element(own_gain.begin(), own_gain.end()));
  std::printf("spindle/best other over all configurations: median %.3f, worst %.3f; slower by more than 1%%: %d\n%s",
              median(ratios), *std::max_element(ratios.begin(), ratios.end()), behind, behind_list.c_str());
  std::printf("estimate error against SimGrid over %zu simulated system iterations: median %.2f%%, worst %.2f%%\n",
              errors.size(), 100 * median(errors), errors.empty() ? 0.0 : 100 * *std::max_element(errors.begin(), errors.end()));
  return 0;
}

}  // namespace spindle
