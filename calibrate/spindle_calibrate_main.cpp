// spindle-calibrate: measures a scenario's operators with the engine's kernels on a backend
// into an HDF5 calibration profile, or reports a profile's points and fits
// (calibrate/calibrate_command.h). Flags only, here.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <iostream>

#include "calibrate/calibrate_command.h"
#include "traces/main_guard.h"

int main(int argc, char** argv) {
  CLI::App app{
      "spindle-calibrate: time every operator shape a scenario's cost model samples with the engine's own forward "
      "and backward kernels (warm-up, then repetitions from cold caches, on one thread), and the optimizer's "
      "multi-tensor step and gradient norm per tensor size, into an HDF5 profile for spindle-sim --profile; or "
      "print a profile's points, fitted alpha-beta curves and errors (--report)"};
  app.get_formatter()->column_width(34);
  spindle::calibrate::CalibrateCommand c;
  app.add_option("scenario", c.scenario_file,
                 "Scenario file (TOML); without one, the default grid scenarios/calibrate/default-grid.toml");
  app.add_option("--out", c.out, "The profile to write (atomically, after every key)")->type_name("FILE.h5");
  app.add_option("--set", c.sets, "Override a scenario value, KEY=VALUE with a dotted KEY (repeatable)")
      ->type_name("KEY=VALUE");
  app.add_option("--backend", c.backend, "Backend whose kernels are timed: cpu (single-threaded OpenBLAS, steady "
                                         "clock), cuda when built with it (CUDA events on the compute stream)")
      ->capture_default_str();
  app.add_option("--scale", c.scale, "Model size, as spindle-run's: full, small or tiny")->capture_default_str();
  app.add_option("--dtype", c.dtype, "Activation storage, as spindle-run's --dtype: fp32 or bf16 (default fp32 on "
                                     "cpu, bf16 on cuda); the profile's keys carry it");
  app.add_option("--grid", c.grid,
                 "Per-device batches: pow2 (powers of two spanning those the estimator asks for; batches in between "
                 "stay unmeasured), asked (exactly those), or a list such as 1,2,4,8")
      ->capture_default_str();
  app.add_flag("--resume", c.resume, "Continue a partial profile in --out (keys already there are skipped)");
  app.add_option("--warmup", c.warmup, "Untimed runs per key")->capture_default_str();
  app.add_option("--repeats", c.repeats, "Timed runs per key (mean and standard deviation stored)")
      ->capture_default_str();
  app.add_option("--seed", c.seed, "Seed of weights and inputs (default: the scenario's)");
  app.add_flag("--collectives", c.collectives,
               "Under mpirun/srun (2+ ranks): time all-reduce, all-gather, reduce-scatter, broadcast and send/recv through the "
               "engine's communicator (MPI on cpu, NCCL on cuda) at nccl-tests' sizes into --out's collective table");
  app.add_option("--max-bytes", c.max_bytes, "--collectives: the largest size (8 B doubling up to it; up to 8 GiB)")
      ->capture_default_str();
  app.add_option("--report", c.report, "Print this profile's points, fitted piecewise alpha-beta curves and fit errors")
      ->type_name("FILE.h5");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "spindle-calibrate: " << e.what() << "; allowed: see spindle-calibrate --help\n";
    return spindle::kExitBadInput;
  }
  c.terminal = isatty(STDERR_FILENO) != 0;
  for (const CLI::Option* o : app.get_options())
    if (o->count() > 0 && !o->get_lnames().empty()) c.given.push_back("--" + o->get_lnames().front());
  return spindle::run_guarded("spindle-calibrate",
                              [&] { return spindle::calibrate::calibrate_command(c, std::cout, std::cerr); });
}
