// What `spindle-calibrate` does behind its flags: measures every operator key a scenario's
// cost model samples (calibrate/plan/) with the engine's own kernels on one backend
// (calibrate/measure/) into an HDF5 profile (traces/profile.h), rewritten atomically after
// every key so that --resume continues a partial one; or, with --collectives under mpirun or
// srun, times the engine's communicator's collectives over every rank (measure/collective_timer.h)
// into the same profile's collective table; or --report prints a profile's points, fits and
// errors (calibrate/report/). The main only parses flags.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace spindle::calibrate {

struct CalibrateCommand {
  std::string scenario_file;      // empty: the default grid (scenarios/calibrate/default-grid.toml)
  std::vector<std::string> sets;  // --set KEY=VALUE
  std::string out;                // --out FILE.h5
  std::string backend = "cpu";
  std::string scale = "full";     // as spindle-run's --scale
  std::string dtype;              // activation storage: fp32 or bf16 (empty: fp32 on cpu, bf16 on cuda)
  std::string grid = "pow2";
  bool resume = false;
  int warmup = 2;
  int repeats = 5;
  std::int64_t seed = -1;         // < 0: the scenario's
  std::string report;             // --report FILE.h5: print instead of measuring
  bool collectives = false;       // --collectives: time collectives over the MPI launch's ranks instead
  std::int64_t max_bytes = std::int64_t{1} << 30;  // --max-bytes: the largest collective size
  bool terminal = false;          // stderr is a terminal (the progress line redraws in place)
  std::vector<std::string> given;  // the options given on the command line ("--scale", ...)
};

// The scenario calibrated without one.
std::string default_grid_scenario();

// Runs it, printing to `out` and the progress to `err`; returns the exit code. Throws
// InputError for bad flags, scenarios and profiles.
int calibrate_command(const CalibrateCommand& c, std::ostream& out, std::ostream& err);

}  // namespace spindle::calibrate
