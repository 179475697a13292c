// spindle-bench-planner [--grid-only | --scaling-only | --levels-only | --quick]: issue 17's
// grid of every system over the zoo, cluster sizes, networks and batches (bench_planner_grid.h);
// the planning time of the 10-task model at 8 ... 1,024 GPUs (weak-scaled: every task's batch
// grows with the GPU count so that GPUs have work), per system and for one candidate's scoring by
// spindle (placement, lowering, estimate), goal: spindle under 1 s at 1,024 GPUs; then the
// planners' compute plans against C* on Multitask-CLIP (README "Wavefront scheduling").
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "planner/cost/cost_model.h"
#include "planner/graph/graph_builder.h"
#include "planner/pipeline.h"
#include "planner/program/instr_time.h"
#include "planner/schedule/systems.h"
#include "tests/bench/bench_planner_grid.h"
#include "traces/text_table.h"

namespace {

int scaling() {
  using namespace spindle;
  using Clock = std::chrono::steady_clock;
  TextTable t;
  t.add_column("GPUs", TextTable::Align::kRight);
  t.add_column("MetaOps", TextTable::Align::kRight);
  t.add_column("cost model ms", TextTable::Align::kRight);
  t.add_column("spindle ms", TextTable::Align::kRight);
  for (const std::string& name : system_names())
    if (name != "spindle") t.add_column(name + " ms", TextTable::Align::kRight);
  t.add_column("spindle own ms", TextTable::Align::kRight);
  t.add_column("spindle-paper x C*", TextTable::Align::kRight);
  t.add_column("place ms", TextTable::Align::kRight);
  t.add_column("lower ms", TextTable::Align::kRight);
  t.add_column("estimate ms", TextTable::Align::kRight);
  t.add_column("flows", TextTable::Align::kRight);
  for (int nodes : {1, 2, 4, 8, 16, 32, 64, 128}) {
    LoadOptions o;
    o.overrides = {"cluster.nodes=" + std::to_string(nodes)};
    Scenario base = load_scenario(default_data_dir() / "multitask-clip-10.toml", o);
    const int scale = std::max(1, nodes / 4);  // the zoo batches are sized for 32 GPUs
    for (size_t k = 0; k < base.tasks.size(); ++k)
      o.overrides.push_back("tasks." + std::to_string(k) + ".batch=" + std::to_string(base.tasks[k].batch * scale));
    Scenario s = load_scenario(default_data_dir() / "multitask-clip-10.toml", o);
    Graph g = build_graph(s);
    MetaGraph mg = contract(g);
    auto t0 = Clock::now();
    CostModel cost(s, g, mg);
    std::vector<std::string> row = {std::to_string(s.cluster.gpus()), std::to_string(mg.metaops.size()),
                                    fixed(std::chrono::duration<double, std::milli>(Clock::now() - t0).count(), 2)};
    double ratio = 0;
    {  // spindle through the pipeline: its own candidates, then scoring (its planning time)
      ScenarioModel m(s);
      row.push_back(fixed(plan_systems(m, {"spindle"}).front().planning_s * 1e3, 2));
    }
    std::string own_ms;
    for (const std::string& name : system_names()) {
      t0 = Clock::now();
      Plan p = plan_system(name, s, mg, cost);
      const std::string ms = fixed(std::chrono::duration<double, std::milli>(Clock::now() - t0).count(), 2);
      if (name == "spindle") own_ms = ms;
      else row.push_back(ms);
      if (name == "spindle-paper") ratio = p.planned_s / p.cstar_s;
    }
    row.push_back(own_ms);
    row.push_back(fixed(ratio, 3));
    {  // one candidate's scoring: placement, lowering, estimate (spindle-paper's plan)
      ScenarioModel m(s);
      Plan p = plan_system("spindle-paper", m.s, m.mg, m.cost);
      t0 = Clock::now();
      place(p, m.s, m.g, m.mg, PlacementPolicy::kSpindle);
      row.push_back(fixed(std::chrono::duration<double, std::milli>(Clock::now() - t0).count(), 2));
      t0 = Clock::now();
      Programs programs = lower(p, m.s, m.g, m.mg);
      const auto secs = compute_seconds(programs, m.s, m.mg, m.cost);
      row.push_back(fixed(std::chrono::duration<double, std::milli>(Clock::now() - t0).count(), 2));
      t0 = Clock::now();
      const IterationEstimate e = estimate_iteration(programs, secs, m.s.cluster);
      row.push_back(fixed(std::chrono::duration<double, std::milli>(Clock::now() - t0).count(), 2));
      row.push_back(std::to_string(e.flows));
    }
    t.add_row(row);
  }
  std::printf("Planning time, multitask-clip-10 weak-scaled (batches x GPUs/32), one run each; spindle's column is "
              "its planning through the pipeline (own candidates, then each candidate placed, lowered and estimated as in "
              "the last four columns, up to [planner] score_candidates_up_to_gpus = 128); spindle own: its own "
              "candidates alone (level search, compaction)\n%s",
              t.render().c_str());
  return 0;
}

// spindle-paper and spindle's own compute-fastest candidate against C*, C*valid and the lower
// bound on Multitask-CLIP at 8 ... 64 GPUs, and the time spindle's own candidates take.
int levels() {
  using namespace spindle;
  using Clock = std::chrono::steady_clock;
  TextTable t;
  for (const char* c : {"scenario", "GPUs", "spindle-paper ms", "x C*", "x C*valid", "x lower bound",
                        "speedup vs sequential", "spindle own ms", "x C* ", "speedup", "planning s"})
    t.add_column(c, std::string(c) == "scenario" ? TextTable::Align::kLeft : TextTable::Align::kRight);
  for (const char* name : {"multitask-clip-4", "multitask-clip-7", "multitask-clip-10"})
    for (int nodes : {1, 2, 4, 8}) {
      LoadOptions o;
      o.overrides = {"cluster.nodes=" + std::to_string(nodes)};
      ScenarioModel m(load_scenario(default_data_dir() / (std::string(name) + ".toml"), o));
      const Plan paper = plan_system("spindle-paper", m.s, m.mg, m.cost);
      const Plan seq = plan_system("sequential", m.s, m.mg, m.cost);
      const auto t0 = Clock::now();
      const Plan own = plan_system("spindle", m.s, m.mg, m.cost);
      const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
      t.add_row({name, std::to_string(m.s.cluster.gpus()), fixed(paper.planned_s * 1e3, 3),
                 fixed(paper.planned_s / paper.cstar_s, 3), fixed(paper.planned_s / paper.cstar_valid_s, 3),
                 fixed(paper.planned_s / paper.lower_bound_s, 3), fixed(seq.planned_s / paper.planned_s, 2) + "x",
                 fixed(own.planned_s * 1e3, 3), fixed(own.planned_s / own.cstar_s, 3),
                 fixed(seq.planned_s / own.planned_s, 2) + "x", fixed(secs, 2)});
    }
  std::printf("Planned compute (no communication) against C*: spindle-paper as published, spindle's own "
              "compute-fastest candidate (before the pipeline's choice by the estimate); planning s: spindle's "
              "own candidates, one core\n%s",
              t.render().c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace spindle;
  bool grid = true, scale = true, level = true, quick = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--grid-only") scale = level = false;
    else if (a == "--scaling-only") grid = level = false;
    else if (a == "--levels-only") grid = scale = false;
    else if (a == "--quick") quick = true;
    else {
      std::fprintf(stderr, "%s: unknown argument; allowed: --grid-only, --scaling-only, --levels-only, --quick\n", a.c_str());
      return 2;
    }
  }
  if (grid) {
    GridOptions o;
    for (const char* f : {"multitask-clip-4", "multitask-clip-7", "multitask-clip-10", "ofasys-4", "ofasys-7",
                                 "qwen-val-3", "h100-multitask-clip-10", "h100-ofasys-7", "h100-qwen-val-3"})
      o.scenarios.push_back(f);
    if (quick) {  // one scenario per family, the paper's sizes
      o.scenarios = {"multitask-clip-10", "ofasys-7", "qwen-val-3"};
      o.nodes = {2, 4};
      o.batches = {1};
    }
    run_planner_grid(o);
  }
  if (scale && scaling() != 0) return 1;
  return level ? levels() : 0;
}
