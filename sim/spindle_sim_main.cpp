// spindle-sim: plans a scenario with Spindle and the baselines and simulates every plan on a
// SimGrid model of the cluster (sim/sim_command.h); also runs studies, the collective
// microbenchmark, and the subcommands `report DIR` and `compare A B`. Flags only, here.
#include <CLI/CLI.hpp>
#include <iostream>

#include "planner/schedule/systems.h"
#include "sim/sim_command.h"
#include "sim/study/study_commands.h"
#include "traces/main_guard.h"

int main(int argc, char** argv) {
  if (spindle::is_subcommand(argc, argv)) return spindle::run_subcommand(argc, argv);
  CLI::App app{"spindle-sim: plan and simulate multi-task multi-modal training (what-if studies)"};
  app.get_formatter()->column_width(34);
  spindle::SimCommand c;
  c.systems = spindle::system_names();
  app.add_option("scenario", c.scenario_file,
                 "Scenario file (TOML), e.g. scenarios/multitask-clip-10.toml; a file with [sweep] runs a study "
                 "(scenarios/studies/). Also: spindle-sim report DIR, spindle-sim compare A B")
      ->required();
  app.add_option("-j,--jobs", c.study.jobs, "Study: points run at once (default: the number of CPUs)")->type_name("N");
  app.add_flag("--resume", c.study.resume, "Study: skip the points already finished in the output folder")
      ->capture_default_str();
  app.add_option("--shard", c.shard, "Study: run only points I, I+N, I+2N, ... (0 <= I < N); merge with spindle-sim report")
      ->type_name("I/N");
  app.add_option("--point", c.point, "Study: run only point K into --out (what the study runner starts)")->group("");
  app.add_option("--set", c.sets, "Override a scenario value, KEY=VALUE with a dotted KEY (repeatable)")
      ->type_name("KEY=VALUE");
  app.add_flag("--json", c.json, "Print the summary as JSON on stdout instead of text")->capture_default_str();
  app.add_option("--dump-graph", c.dump_dir, "Write graph.dot (G) and metagraph.dot (G_M) into DIR")->type_name("DIR");
  app.add_option("--out", c.out_dir,
                 "Write summary.txt, summary.json, plan files and (when simulating) <system>.trace.json into DIR; "
                 "a simulation writes them to out/<scenario name> without it (out/<scenario name>-<scale> at --scale small "
                 "or tiny)")
      ->type_name("DIR");
  app.add_flag("--explain-cost", c.explain_cost, "Print each MetaOp's scaling curve T(n), configuration and memory")
      ->capture_default_str();
  app.add_option("--scale", c.scale,
                 "Model size as spindle-run's --scale shrinks it: full, small or tiny (to simulate what a scaled "
                 "run runs, e.g. before compare-run)")
      ->capture_default_str();
  app.add_option("--profile", c.profile_file,
                 "Calibration profile (HDF5): measured points replace the analytic model where they exist")
      ->type_name("FILE.h5");
  app.add_flag("--plan-only", c.plan_only,
               "Plan with every --system and print planned times against C* and the lower bound; with --out DIR "
               "also write DIR/<system>.plan.json")
      ->capture_default_str();
  app.add_option("--system", c.systems,
                 "Systems to plan and simulate (repeatable): spindle, spindle-paper, sequential, uniform, optimus")
      ->capture_default_str();
  app.add_option("--collective", c.collective,
                 "Instead of plans: simulate one collective at nccl-tests' sizes (all_reduce, all_gather, "
                 "reduce_scatter, broadcast, sendrecv)")
      ->type_name("NAME");
  app.add_option("--compare", c.compare_file,
                 "Hold published nccl-tests results (a cited data file, tests/sim/nccl_tests/) against the simulator "
                 "and NCCL's own model, on SCENARIO with the file's cluster settings")
      ->type_name("FILE.toml");
  app.add_option("--gpus", c.bench_gpus, "With --collective: use the first N GPUs (default: all)")->type_name("N");
  app.add_flag("--ring-steps", c.ring_steps,
               "With collectives = \"hierarchical_ring\": simulate every ring step of a collective as its own flow "
               "(default: one flow per rank per phase)")
      ->capture_default_str();
  app.add_option("--plan", c.plan_file, "Read a plan file back (validated against the scenario) and report it")
      ->type_name("FILE.json");
  app.add_option("--programs", c.programs_dir,
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
  c.jobs_set = app.count("--jobs") > 0;
  c.bench_gpus_set = app.count("--gpus") > 0;
  return spindle::run_guarded("spindle-sim", [&] { return spindle::run_sim_command(std::move(c)); });
}
