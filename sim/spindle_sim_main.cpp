// spindle-sim: reads a scenario, builds its multi-task graph, contracts it into MetaOps, plans
// it with Spindle and the baselines, places and lowers the plans, and replays every plan on a
// SimGrid model of the cluster (one child process per system), printing the summary (text or
// --json) and writing Chrome traces; --plan-only stops before the simulation, --collective
// runs the nccl-tests-style microbenchmark instead.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include <optional>

#include "planner/cost_model.h"
#include "planner/cost_report.h"
#include "planner/graph_builder.h"
#include "planner/graph_report.h"
#include "planner/lowering.h"
#include "planner/plan_report.h"
#include "planner/systems.h"
#include "planner/metagraph.h"
#include "planner/scenario.h"
#include "planner/chrome_trace.h"
#include "sim/collective_bench.h"
#include "sim/result_files.h"
#include "sim/sim_report.h"
#include "sim/simulation.h"
#include "sim/html_report.h"
#include "sim/study_commands.h"
#include "sim/study_runner.h"
#include "sim/sweep.h"
#include "traces/atomic_file.h"
#include "traces/errors.h"
#include "traces/main_guard.h"
#include "traces/profile.h"

int main(int argc, char** argv) {
  if (spindle::is_subcommand(argc, argv)) return spindle::run_subcommand(argc, argv);
  CLI::App app{"spindle-sim: plan and simulate multi-task multi-modal training (what-if studies)"};
  app.get_formatter()->column_width(34);
  std::string scenario_file;
  std::vector<std::string> sets;
  bool json = false;
  std::string dump_dir;
  std::string out_dir;
  std::string profile_file;
  bool explain_cost = false;
  bool plan_only = false;
  std::vector<std::string> systems = spindle::system_names();
  std::string plan_file;
  std::string programs_dir;
  std::string collective;
  int bench_gpus = 0;
  bool ring_steps = false;
  app.add_option("scenario", scenario_file,
                 "Scenario file (TOML), e.g. scenarios/multitask-clip-10.toml; a file with [sweep] runs a study "
                 "(scenarios/studies/). Also: spindle-sim report DIR, spindle-sim compare A B")
      ->required();
  spindle::StudyOptions study;
  std::string shard;
  int point = -1;
  app.add_option("-j,--jobs", study.jobs, "Study: points run at once (default: the number of CPUs)")->type_name("N");
  app.add_flag("--resume", study.resume, "Study: skip the points already finished in the output folder")
      ->capture_default_str();
  app.add_option("--shard", shard, "Study: run only points I, I+N, I+2N, ... (0 <= I < N); merge with spindle-sim report")
      ->type_name("I/N");
  app.add_option("--point", point, "Study: run only point K into --out (what the study runner starts)")->group("");
  app.add_option("--set", sets, "Override a scenario value, KEY=VALUE with a dotted KEY (repeatable)")
      ->type_name("KEY=VALUE");
  app.add_flag("--json", json, "Print the summary as JSON on stdout instead of text")->capture_default_str();
  app.add_option("--dump-graph", dump_dir, "Write graph.dot (G) and metagraph.dot (G_M) into DIR")
      ->type_name("DIR");
  app.add_option("--out", out_dir,
                 "Write summary.txt, summary.json, plan files and (when simulating) <system>.trace.json into DIR; "
                 "a simulation writes them to out/<scenario name> without it")
      ->type_name("DIR");
  app.add_flag("--explain-cost", explain_cost, "Print each MetaOp's scaling curve T(n), configuration and memory")
      ->capture_default_str();
  app.add_option("--profile", profile_file,
                 "Calibration profile (HDF5): measured points replace the analytic model where they exist")
      ->type_name("FILE.h5");
  app.add_flag("--plan-only", plan_only,
               "Plan with every --system and print planned times against C* and the lower bound; with --out DIR "
               "also write DIR/<system>.plan.json")
      ->capture_default_str();
  app.add_option("--system", systems,
                 "Systems to plan and simulate (repeatable): spindle, spindle-paper, sequential, uniform, optimus")
      ->capture_default_str();
  app.add_option("--collective", collective,
                 "Instead of plans: simulate one collective at nccl-tests' sizes (all_reduce, all_gather, "
                 "reduce_scatter, broadcast, sendrecv)")
      ->type_name("NAME");
  app.add_option("--gpus", bench_gpus, "With --collective: use the first N GPUs (default: all)")->type_name("N");
  app.add_flag("--ring-steps", ring_steps,
               "Simulate every ring step of a collective as its own flow (default: one flow per rank per phase)")
      ->capture_default_str();
  app.add_option("--plan", plan_file, "Read a plan file back (validated against the scenario) and report it")
      ->type_name("FILE.json");
  app.add_option("--programs", programs_dir,
                 "Write every device's program of each plan as text: DIR/<system>/device-<id>.txt")
      ->type_name("DIR");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "spindle-sim: " << e.what() << "; allowed: see spindle-sim --help\n";
    return spindle::kExitBadInput;
  }
  return spindle::run_guarded("spindle-sim", [&] {
    spindle::LoadOptions options;
    options.overrides = sets;
    // Flags every point would reject: one line here, not one failed point each.
    for (const std::string& name : systems) spindle::check_system_name(name);
    if (app.count("--jobs") > 0 && study.jobs < 1)
      throw spindle::InputError("--jobs " + std::to_string(study.jobs) + ": allowed: 1 or more points at once");
    std::optional<spindle::Study> st;
    if (spindle::is_study_file(scenario_file)) st = spindle::read_study_file(scenario_file);
    if (st && point < 0) {  // a study: every point in its own process, then the report
      if (json || plan_only || !plan_file.empty() || !collective.empty() || !programs_dir.empty() || !dump_dir.empty())
        throw spindle::InputError(scenario_file + ": a study (it has [sweep]) runs whole points; allowed: no --json, "
                                  "--plan-only, --plan, --collective, --programs or --dump-graph with a study");
      if (!shard.empty()) spindle::parse_shard(shard, study.shard, study.shards);
      study.out_dir = out_dir;
      study.sets = sets;
      for (const std::string& name : systems) study.pass.insert(study.pass.end(), {"--system", name});
      if (!profile_file.empty()) study.pass.insert(study.pass.end(), {"--profile", profile_file});
      if (ring_steps) study.pass.push_back("--ring-steps");
      if (explain_cost) study.pass.push_back("--explain-cost");
      return spindle::run_study(scenario_file, study);
    }
    if (!st && (point >= 0 || !shard.empty() || study.resume || app.count("--jobs") > 0))
      throw spindle::InputError(scenario_file + ": --point, --shard, --resume and --jobs are for studies; allowed: a "
                                "scenario file with a [sweep] table");
    spindle::Scenario s = st ? spindle::load_point(*st, point, options) : spindle::load_scenario(scenario_file, options);
    const spindle::NetworkOptions net{ring_steps};
    if (app.count("--gpus") > 0 && collective.empty())
      throw spindle::InputError("--gpus: only used with --collective; allowed: --collective NAME --gpus N");
    if (!collective.empty()) {
      if (plan_only || !plan_file.empty())
        throw spindle::InputError("--collective: runs alone; allowed: no --plan-only or --plan with --collective");
      const spindle::Collective c = spindle::parse_collective(collective, "--collective");
      const int gpus = app.count("--gpus") > 0 ? bench_gpus : s.cluster.gpus();
      const auto rows = spindle::bench_collective(s.cluster, c, gpus, net);
      std::cout << (json ? spindle::bench_json(s, c, gpus, rows) : spindle::bench_text(s, c, gpus, rows, net));
      return spindle::kExitOk;
    }
    spindle::Graph g = spindle::build_graph(s);
    spindle::MetaGraph mg = spindle::contract(g);
    std::optional<spindle::Profile> profile;
    if (!profile_file.empty()) profile = spindle::read_profile(profile_file);
    spindle::CostModel cost(s, g, mg, profile ? &*profile : nullptr);
    if (!dump_dir.empty()) {
      spindle::write_file_atomically(std::filesystem::path(dump_dir) / "graph.dot", spindle::graph_dot(s, g));
      spindle::write_file_atomically(std::filesystem::path(dump_dir) / "metagraph.dot",
                                     spindle::metagraph_dot(s, mg));
    }
    const bool simulate = !plan_only;
    if (simulate && out_dir.empty()) out_dir = (std::filesystem::path("out") / s.name).string();
    std::vector<std::string> unique_systems;
    for (const std::string& name : systems)
      if (std::find(unique_systems.begin(), unique_systems.end(), name) == unique_systems.end())
        unique_systems.push_back(name);
    std::vector<spindle::PlannedSystem> planned, ablated;
    if (plan_only || plan_file.empty()) {  // a plan read back with --plan is simulated alone
      for (const std::string& name : unique_systems) {
        const auto t0 = std::chrono::steady_clock::now();
        spindle::Plan p = spindle::plan_system(name, s, mg, cost);
        const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        p.peak_slice_GiB = spindle::peak_slice_GiB(p, s, g, mg);
        if (name == "spindle") {  // the ablation: the same plan on device ids in order
          spindle::Plan ablation = p;
          spindle::PlacementReport rep = spindle::place(ablation, s, g, mg, spindle::PlacementPolicy::kSequential);
          ablated.push_back({std::move(ablation), rep, 0.0, "", "sequential-placement"});
        }
        spindle::PlacementReport rep = spindle::place(p, s, g, mg, spindle::PlacementPolicy::kSpindle);
        planned.push_back({std::move(p), rep, secs, "", ""});
      }
      for (auto& a : ablated) planned.push_back(std::move(a));
    }
    if (!plan_file.empty()) {
      spindle::Plan p = spindle::read_plan(plan_file, s, mg, cost);
      spindle::set_bounds(p, mg, cost);
      p.peak_slice_GiB = spindle::peak_slice_GiB(p, s, g, mg);
      spindle::PlacementReport rep = spindle::is_placed(p) ? spindle::measure_placement(p, s, g, mg)
                                            : spindle::place(p, s, g, mg, spindle::PlacementPolicy::kSpindle);
      planned.push_back({std::move(p), rep, 0.0, plan_file, ""});
    }
    if (!programs_dir.empty()) {
      if (planned.empty())
        throw spindle::InputError("--programs: needs plans; allowed: --plan-only or --plan FILE with --programs DIR");
      for (const spindle::PlannedSystem& ps : planned) {
        if (!ps.placement_label.empty()) continue;
        const spindle::Programs progs = spindle::lower(ps.plan, s, g, mg);
        const std::string problem = spindle::replay(progs);
        if (!problem.empty()) throw spindle::InternalError(ps.plan.system + " programs do not complete: " + problem);
        for (const spindle::DeviceProgram& dp : progs.devices) {
          char name[32];
          std::snprintf(name, sizeof name, "device-%03d.txt", dp.device);
          spindle::write_file_atomically(std::filesystem::path(programs_dir) / ps.plan.system / name,
                                         spindle::program_text(dp, s, mg));
        }
      }
    }
    // The terminal shows wall-clock times; files get them only in timing.json (same inputs, same bytes).
    std::vector<spindle::SimulatedPlan> sims;
    std::vector<spindle::ReplayResult> results;
    std::vector<std::string> names, trace_files, trace_paths;
    double simulation_s = 0;
    if (simulate) {
      std::vector<const spindle::Plan*> plans;
      for (const spindle::PlannedSystem& ps : planned) plans.push_back(&ps.plan);
      const auto t0 = std::chrono::steady_clock::now();
      sims = spindle::simulate_plans(plans, s, g, mg, cost, net);
      simulation_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      for (size_t i = 0; i < sims.size(); ++i) {
        names.push_back(spindle::simulated_name(planned[i]));
        const std::filesystem::path file = std::filesystem::path(out_dir) / (names.back() + ".trace.json");
        spindle::write_file_atomically(file, spindle::chrome_trace_json(s, mg, sims[i].programs, sims[i].replay, names.back()));
        trace_files.push_back(names.back() + ".trace.json");
        trace_paths.push_back(file.string());
        results.push_back(sims[i].replay);
      }
    }
    // The scenario as run: the file (or the study point) and its --set overrides.
    auto scenario_shown = [&] {
      std::string shown = st ? spindle::point_scenario_text(*st, point) : spindle::read_file(scenario_file);
      for (const std::string& o : sets) shown += "# --set " + o + "\n";
      return shown;
    };
    auto report = [&](const std::vector<spindle::PlannedSystem>& shown) {
      std::string text = spindle::summary_text(s, g, mg);
      if (explain_cost) text += "\n" + spindle::cost_text(s, g, mg, cost, profile_file);
      if (!shown.empty()) text += "\n" + spindle::plans_text(s, mg, shown, s.cluster.gpu.memory_GiB());
      std::string js = spindle::summary_json(s, g, mg, &cost, profile_file, &shown);
      if (simulate) {
        text += "\n" + spindle::simulation_text(s, shown, results, trace_paths, net);
        js = spindle::merge_simulation_json(js, s, results, trace_files, net);
        text += "\nReport: " + (std::filesystem::path(out_dir) / "index.html").string() + "\n";
      }
      return std::pair{text, js};
    };
    const auto [text, js] = report(planned);
    if (!out_dir.empty()) {
      const std::filesystem::path dir(out_dir);
      std::vector<spindle::PlannedSystem> untimed = planned;
      for (spindle::PlannedSystem& ps : untimed) ps.planning_s = -1;
      const auto [file_text, file_js] = report(untimed);
      spindle::write_file_atomically(dir / "summary.txt", file_text);
      spindle::write_file_atomically(dir / "summary.json", file_js);
      for (const spindle::PlannedSystem& ps : planned)
        if (ps.from_file.empty() && ps.placement_label.empty())
          spindle::write_file_atomically(dir / (ps.plan.system + ".plan.json"), spindle::plan_json(ps.plan, s, mg));
      if (simulate) {
        spindle::write_file_atomically(dir / "results.csv", spindle::results_csv(planned, names, results));
        spindle::write_results_h5(dir / "results.h5", scenario_shown(), planned, names, results);
      }
      spindle::write_file_atomically(dir / "timing.json", spindle::timing_json(planned, simulate ? simulation_s : -1));
    }
    if (simulate) spindle::write_run_report(out_dir, scenario_shown());
    std::cout << (json ? js : text);
    return spindle::kExitOk;
  });
}
