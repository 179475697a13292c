// spindle-run: trains a scenario's model (optionally scaled down) with synthetic learnable
// data, on one device of a backend or on N logical devices executing a system's (or a plan
// file's) per-device programs (engine/run_command.h). Flags only, here.
#include <CLI/CLI.hpp>
#include <iostream>

#include "engine/run_command.h"
#include "traces/main_guard.h"

int main(int argc, char** argv) {
  CLI::App app{"spindle-run: train a scenario's model (synthetic learnable data) on a backend"};
  app.get_formatter()->column_width(34);
  spindle::engine::RunCommand c;
  app.add_option("scenario", c.scenario_file, "Scenario file (TOML), e.g. scenarios/multitask-clip-4.toml")->required();
  app.add_option("--set", c.sets, "Override a scenario value, KEY=VALUE with a dotted KEY (repeatable)")
      ->type_name("KEY=VALUE");
  app.add_option("--backend", c.backend, "Backend: cpu (cuda when built with it)")->capture_default_str();
  app.add_option("--devices", c.devices,
                 "Logical devices; more than 1 (or --system / --plan) runs a plan's per-device programs "
                 "(under mpirun/srun: the ranks, one device per process)")
      ->capture_default_str();
  app.add_option("--system", c.system, "Planner whose plan runs: spindle, spindle-paper, sequential, uniform, optimus")
      ->capture_default_str();
  app.add_option("--plan", c.plan_file,
                 "Run this plan file (spindle-sim --plan-only --out DIR, or --save-plan) instead of --system's")
      ->type_name("FILE.json");
  app.add_option("--save-plan", c.save_plan, "Write the plan that runs as a plan file (to edit and run with --plan)")
      ->type_name("FILE.json");
  app.add_option("--trace", c.trace, "Write a Chrome trace (Perfetto) of one iteration's execution: the one of median time among the last 21")
      ->type_name("FILE.json");
  app.add_option("--dtype", c.dtype,
                 "How activations, their gradients and transfers are stored: fp32 or bf16 (weights, gradients and "
                 "optimizer state stay fp32; the CPU backend computes in fp32)")
      ->capture_default_str();
  app.add_flag("--memory-report", c.memory_report,
               "Print per device the planner's memory estimate for the engine's storage beside the allocator's "
               "measured peak, by part");
  app.add_option("--steps", c.steps, "Train until this many iterations are done (counting resumed ones)")
      ->capture_default_str();
  app.add_option("--seed", c.seed, "Seed of weights and data, >= 0 (default: the scenario's [scenario] seed)")
      ->check(CLI::Validator(
          [](const std::string& v) { return !v.empty() && v[0] == '-' ? std::string("must be 0 or more") : std::string(); },
          "INT >= 0"));
  app.add_option("--scale", c.scale, "Model size: full, small or tiny (factors in README, 'Engine')")
      ->capture_default_str();
  app.add_option("--lr", c.lr, "AdamW peak learning rate (10 warm-up steps, then constant)")->capture_default_str();
  app.add_option("--metrics", c.metrics, "Write rows step,task,loss,step_s (one per task and iteration)")
      ->type_name("FILE.csv");
  app.add_option("--checkpoint", c.checkpoint_dir, "Write a checkpoint into DIR at the end (and every --checkpoint-every): a file per device and manifest.json")
      ->type_name("DIR");
  app.add_option("--checkpoint-every", c.checkpoint_every, "Also checkpoint every N iterations (0: only at the end)")
      ->capture_default_str();
  app.add_flag("--resume", c.resume, "Continue from the checkpoint in --checkpoint DIR (written by any run of the scenario: any plan, any devices)")->capture_default_str();
  app.add_option("--log-every", c.log_every, "Print the losses every N iterations (0: only the summary)")
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "spindle-run: " << e.what() << "; allowed: see spindle-run --help\n";
    return spindle::kExitBadInput;
  }
  c.system_set = app.count("--system") > 0;
  c.devices_set = app.count("--devices") > 0;
  return spindle::run_guarded("spindle-run", [&] { return spindle::engine::run_command(c); });
}
