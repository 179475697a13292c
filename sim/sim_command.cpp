// spindle-sim's work behind its flags (see sim_command.h).
#include "sim/sim_command.h"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <optional>

#include "planner/config/model_scale.h"
#include "planner/pipeline.h"
#include "planner/report/cost_report.h"
#include "planner/report/graph_report.h"
#include "planner/report/iteration_trace.h"
#include "planner/report/plan_report.h"
#include "sim/faults/fault_whatif.h"
#include "sim/replay/collective_bench.h"
#include "sim/replay/measured_collectives.h"
#include "planner/cost/collective_table.h"
#include "sim/replay/simulation.h"
#include "sim/report/html_report.h"
#include "sim/report/result_files.h"
#include "sim/report/sim_report.h"
#include "sim/study/sweep.h"
#include "traces/atomic_file.h"
#include "traces/errors.h"
#include "traces/main_guard.h"

namespace spindle {
namespace {

namespace fs = std::filesystem;

// --ring-steps splits the hierarchical ring's phases; NCCL's pipelined phase has none.
void check_ring_steps(const SimCommand& c, const Cluster& cluster) {
  if (cluster.collectives != CollectiveModel::kHierarchicalRing)
    throw InputError("--ring-steps: splits the hierarchical ring's phases, and " + c.scenario_file +
                     " runs NCCL's model (pipelined, not split); allowed: --ring-steps with --set "
                     "'cluster.collectives=\"hierarchical_ring\"'");
}

int run_study_command(const SimCommand& c) {
  if (c.json || c.plan_only || !c.plan_file.empty() || !c.collective.empty() || !c.programs_dir.empty() ||
      !c.dump_dir.empty())
    throw InputError(c.scenario_file + ": a study (it has [sweep]) runs whole points; allowed: no --json, "
                     "--plan-only, --plan, --collective, --programs or --dump-graph with a study");
  StudyOptions study = c.study;
  if (!c.shard.empty()) parse_shard(c.shard, study.shard, study.shards);
  study.out_dir = c.out_dir;
  study.sets = c.sets;
  for (const std::string& name : c.systems) study.pass.insert(study.pass.end(), {"--system", name});
  if (!c.profile_file.empty()) study.pass.insert(study.pass.end(), {"--profile", c.profile_file});
  if (c.ring_steps) study.pass.push_back("--ring-steps");
  if (c.explain_cost) study.pass.push_back("--explain-cost");
  return run_study(c.scenario_file, study);
}

int run_collective_command(const SimCommand& c, Scenario s) {
  if (c.plan_only || !c.plan_file.empty())
    throw InputError("--collective: runs alone; allowed: no --plan-only or --plan with --collective");
  // A profile's measured collectives drive the simulation where they hold the group's shape.
  if (!c.profile_file.empty()) use_measured_collectives(s, read_profile(c.profile_file));
  const Collective coll = parse_collective(c.collective, "--collective");
  const int gpus = c.bench_gpus_set ? c.bench_gpus : s.cluster.gpus();
  const NetworkOptions net{c.ring_steps};
  const auto rows = bench_collective(s.cluster, coll, gpus, net);
  std::cout << (c.json ? bench_json(s, coll, gpus, rows) : bench_text(s, coll, gpus, rows, net));
  return kExitOk;
}

// Each plan's programs as text (the placement ablation's left out).
void write_programs(const SimCommand& c, const ScenarioModel& m, const std::vector<PlannedSystem>& planned,
                    const std::vector<Programs>& programs) {
  for (size_t i = 0; i < planned.size(); ++i) {
    const PlannedSystem& ps = planned[i];
    if (!ps.placement_label.empty()) continue;
    for (const DeviceProgram& dp : programs[i].devices) {
      char name[32];
      std::snprintf(name, sizeof name, "device-%03d.txt", dp.device);
      write_file_atomically(fs::path(c.programs_dir) / ps.plan.system / name, program_text(dp, m.s, m.mg));
    }
  }
}

}  // namespace

int run_sim_command(SimCommand c) {
  // Flags every point would reject: one line here, not one failed point each.
  for (const std::string& name : c.systems) check_system_name(name);
  if (c.jobs_set && c.study.jobs < 1)
    throw InputError("--jobs " + std::to_string(c.study.jobs) + ": allowed: 1 or more points at once");
  find_scale(c.scale);  // a wrong name: one line naming --scale
  if (c.scale != "full" && (!c.compare_file.empty() || !c.collective.empty()))
    throw InputError("--scale " + c.scale + " with " + (c.compare_file.empty() ? "--collective" : "--compare") +
                     ": collectives do not depend on the model's size; allowed: --scale with plans");
  if (!c.compare_file.empty()) {
    const MeasuredCollective measured = read_measured(c.compare_file);
    if (!c.collective.empty() && parse_collective(c.collective, "--collective") != measured.collective)
      throw InputError("--compare " + c.compare_file + ": measures " + collective_name(measured.collective) +
                       "; allowed: --collective " + collective_name(measured.collective) + " or no --collective");
    if (c.plan_only || !c.plan_file.empty() || c.bench_gpus_set || c.ring_steps)
      throw InputError("--compare: runs alone (its ranks come from the file, NCCL's model runs the collective); "
                       "allowed: no --plan-only, --plan, --gpus or --ring-steps");
    std::cout << comparison_text(compare_measured(c.scenario_file, measured, NetworkOptions{}, c.sets));
    return kExitOk;
  }
  std::optional<Study> st;
  if (is_study_file(c.scenario_file)) st = read_study_file(c.scenario_file);
  if (st && c.scale != "full")
    throw InputError("--scale " + c.scale + " with the study " + c.scenario_file +
                     "; allowed: --scale with a scenario file");
  if (st && c.point < 0) {
    if (c.ring_steps) check_ring_steps(c, load_point(*st, 0, LoadOptions{c.sets, {}}).cluster);  // once, not per point
    return run_study_command(c);
  }
  if (!st && (c.point >= 0 || !c.shard.empty() || c.study.resume || c.jobs_set))
    throw InputError(c.scenario_file + ": --point, --shard, --resume and --jobs are for studies; allowed: a "
                     "scenario file with a [sweep] table");
  LoadOptions options;
  options.overrides = c.sets;
  Scenario scenario = st ? load_point(*st, c.point, options) : load_scenario(c.scenario_file, options);
  if (c.scale != "full") scenario = scale_scenario(scenario, find_scale(c.scale));
  if (c.ring_steps) check_ring_steps(c, scenario.cluster);
  if (c.bench_gpus_set && c.collective.empty())
    throw InputError("--gpus: only used with --collective; allowed: --collective NAME --gpus N");
  if (!c.collective.empty()) return run_collective_command(c, scenario);

  std::optional<Profile> profile;
  if (!c.profile_file.empty()) profile = read_profile(c.profile_file);
  // [faults]: the run is on what they leave; the healthy cluster is simulated beside it.
  const Scenario as_written = scenario;
  if (as_written.faults.any()) {
    if (!c.plan_file.empty())
      throw InputError("--plan: a plan file names the devices of one cluster, and " + c.scenario_file +
                       " has [faults]; allowed: --plan with a scenario without [faults]");
    scenario = after_faults(as_written, StragglerPolicy::kKeep);
  }
  const ScenarioModel m(std::move(scenario), profile ? &*profile : nullptr);
  const Scenario& s = m.s;
  if (!c.dump_dir.empty()) {
    write_file_atomically(fs::path(c.dump_dir) / "graph.dot", graph_dot(s, m.g));
    write_file_atomically(fs::path(c.dump_dir) / "metagraph.dot", metagraph_dot(s, m.mg));
  }
  const bool simulate_plans = !c.plan_only;
  // A scaled model's folder apart from the full one's: out/<name>-<scale>.
  if (simulate_plans && c.out_dir.empty())
    c.out_dir = (fs::path("out") / (s.name + (c.scale == "full" ? "" : "-" + c.scale))).string();
  std::vector<PlannedSystem> planned;
  if (c.plan_only || c.plan_file.empty())  // a plan read back with --plan is simulated alone
    planned = plan_systems(m, c.systems, /*placement_ablation=*/true);
  if (!c.plan_file.empty()) planned.push_back(plan_from_file(m, c.plan_file));
  if (!c.programs_dir.empty() && planned.empty())
    throw InputError("--programs: needs plans; allowed: --plan-only or --plan FILE with --programs DIR");
  // Every plan lowered once, for --programs and for the simulation alike.
  std::vector<Programs> programs;
  if (simulate_plans || !c.programs_dir.empty())
    for (const PlannedSystem& ps : planned) programs.push_back(lower_checked(m, ps.plan));
  if (!c.programs_dir.empty()) write_programs(c, m, planned, programs);

  // The terminal shows wall-clock times; files get them only in timing.json (same inputs, same bytes).
  const NetworkOptions net{c.ring_steps};
  std::vector<ReplayResult> results;
  std::vector<std::string> names, trace_files, trace_paths;
  double simulation_s = 0;
  if (simulate_plans) {
    const auto t0 = std::chrono::steady_clock::now();
    results = simulate(m, programs, net);
    simulation_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    for (size_t i = 0; i < results.size(); ++i) {
      names.push_back(simulated_name(planned[i]));
      const fs::path file = fs::path(c.out_dir) / (names.back() + ".trace.json");
      write_file_atomically(file, iteration_trace_json(s, m.mg, programs[i], results[i], names.back()));
      trace_files.push_back(names.back() + ".trace.json");
      trace_paths.push_back(file.string());
    }
  }
  std::optional<FaultComparison> faults;
  if (simulate_plans && as_written.faults.any())
    faults = compare_faults(as_written, c.systems, names, results, profile ? &*profile : nullptr, net);
  // The scenario as run: the file (or the study point), its --set overrides and its --scale.
  auto scenario_shown = [&] {
    std::string shown = st ? point_scenario_text(*st, c.point) : read_file(c.scenario_file);
    for (const std::string& o : c.sets) shown += "# --set " + o + "\n";
    if (c.scale != "full") shown += "# --scale " + c.scale + "\n";
    return shown;
  };
  auto report = [&](const std::vector<PlannedSystem>& shown) {
    std::string text = summary_text(s, m.g, m.mg);
    if (profile) text += "\n" + cost_sources_text(m.cost, *profile);
    if (c.explain_cost) text += "\n" + cost_text(s, m.g, m.mg, m.cost, c.profile_file);
    if (!shown.empty()) text += "\n" + plans_text(s, m.mg, shown, s.cluster.gpu.memory_GiB());
    if (!simulate_plans && as_written.faults.any())
      text += "\nFaults: " + as_written.faults.describe(as_written.cluster.gpus_per_node) + "\n  planned on the " +
              std::to_string(s.cluster.gpus()) + " GPUs left of " + std::to_string(as_written.cluster.gpus()) + "\n";
    std::string js = summary_json(s, m.g, m.mg, &m.cost, c.profile_file, &shown);
    if (simulate_plans) {
      text += "\n" + simulation_text(s, shown, results, trace_paths, net);
      js = merge_simulation_json(js, s, results, trace_files, net);
      if (faults) {
        text += "\n" + faults_text(*faults);
        js = merge_faults_json(js, *faults);
      }
      text += "\nReport: " + (fs::path(c.out_dir) / "index.html").string() + "\n";
    }
    return std::pair{text, js};
  };
  const auto [text, js] = report(planned);
  if (!c.out_dir.empty()) {
    const fs::path dir(c.out_dir);
    std::vector<PlannedSystem> untimed = planned;
    for (PlannedSystem& ps : untimed) ps.planning_s = -1;
    const auto [file_text, file_js] = report(untimed);
    write_file_atomically(dir / "summary.txt", file_text);
    write_file_atomically(dir / "summary.json", file_js);
    for (const PlannedSystem& ps : planned)
      if (ps.from_file.empty() && ps.placement_label.empty())
        write_file_atomically(dir / (ps.plan.system + ".plan.json"), plan_json(ps.plan, s, m.mg));
    if (simulate_plans) {
      write_file_atomically(dir / "results.csv", results_csv(planned, names, results));
      write_results_h5(dir / "results.h5", scenario_shown(), planned, names, results);
    }
    write_file_atomically(dir / "timing.json", timing_json(planned, simulate_plans ? simulation_s : -1));
  }
  if (simulate_plans) write_run_report(c.out_dir, scenario_shown());
  std::cout << (c.json ? js : text);
  return kExitOk;
}

}  // namespace spindle
