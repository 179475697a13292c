// spindle-calibrate behind its flags (see calibrate_command.h).
#include "calibrate/calibrate_command.h"

#include <filesystem>
#include <memory>

#include "calibrate/measure/device_info.h"
#include "calibrate/measure/op_timer.h"
#include "calibrate/measure/progress_line.h"
#include "calibrate/plan/measure_plan.h"
#include "calibrate/report/profile_report.h"
#include "engine/backend_registry.h"
#include "engine/model/model_scale.h"
#include "planner/config/scenario.h"
#include "planner/graph/graph_builder.h"
#include "planner/graph/metagraph.h"
#include "traces/errors.h"
#include "traces/main_guard.h"
#include "traces/profile.h"

namespace spindle::calibrate {

namespace fs = std::filesystem;

std::string default_grid_scenario() { return (default_data_dir() / "calibrate" / "default-grid.toml").string(); }

int calibrate_command(const CalibrateCommand& c, std::ostream& out, std::ostream& err) {
  if (!c.report.empty()) {
    if (!c.scenario_file.empty() || !c.out.empty() || c.resume)
      throw InputError("--report " + c.report + ": prints a profile; allowed: --report FILE.h5 alone (no SCENARIO, "
                       "--out or --resume)");
    out << profile_report(read_profile(c.report));
    return kExitOk;
  }
  if (c.out.empty())
    throw InputError("--out: missing; allowed: --out FILE.h5 (the profile to write), or --report FILE.h5");
  if (c.warmup < 0 || c.warmup > 100000)
    throw InputError("--warmup " + std::to_string(c.warmup) + ": allowed: 0 to 100000 untimed runs per key");
  if (c.repeats < 1 || c.repeats > 100000)
    throw InputError("--repeats " + std::to_string(c.repeats) + ": allowed: 1 to 100000 timed runs per key");
  const Grid grid = Grid::parse(c.grid);
  const engine::ScaleFactors factors = engine::find_scale(c.scale);
  const std::string dtype = c.dtype.empty() ? (c.backend == "cpu" ? "fp32" : "bf16") : c.dtype;
  if (dtype != "fp32" && dtype != "bf16")
    throw InputError("--dtype " + dtype + ": allowed: fp32, bf16 (how activations are stored, as spindle-run's --dtype)");
  std::unique_ptr<engine::Backend> be = engine::make_backend(c.backend);
  be->set_activation_dtype(dtype == "bf16" ? engine::DType::kBF16 : engine::DType::kF32);

  const std::string file = c.scenario_file.empty() ? default_grid_scenario() : c.scenario_file;
  LoadOptions lo;
  lo.overrides = c.sets;
  const Scenario s = engine::scale_scenario(load_scenario(file, lo), factors);
  const Graph g = build_graph(s);
  const MetaGraph mg = contract(g);
  const MeasurePlan plan = measure_plan(s, g, mg, grid, dtype);
  const std::vector<MeasureItem>& items = plan.items;
  const std::uint64_t seed = c.seed >= 0 ? static_cast<std::uint64_t>(c.seed) : s.seed;
  OpTimer timer(s, g, *be, seed);
  const DeviceInfo info = device_info(c.backend);

  Profile p;
  std::error_code ec;
  const bool resuming = c.resume && fs::exists(c.out, ec);
  if (resuming) {
    p = read_profile(c.out);
    auto same = [&](const std::string& what, const std::string& was, const std::string& now) {
      if (was != now)
        throw InputError(c.out + ": --resume: the profile's " + what + " is '" + was + "' but this run's is '" + now +
                         "'; allowed: resume with the same backend, device, timer and libraries, or a new --out");
    };
    same("backend", p.backend, c.backend);
    same("device", p.device, info.device);
    same("timer", p.timer, timer.timer());
    same("libraries", p.libraries, info.libraries);
  } else {
    p.backend = c.backend;
    p.device = info.device;
    p.timer = timer.timer();
    p.libraries = info.libraries;
    p.date = utc_now();
  }
  std::string notes = "scenario " + s.name + " (" + file + ") at scale " + factors.name + ", dtype " + dtype +
                      ", grid " + grid.str() + ", " + std::to_string(c.warmup) + " warm-up + " +
                      std::to_string(c.repeats) + " timed runs per key on one thread";
  if (notes.size() > 1000) notes = notes.substr(0, 1000);
  if (!resuming) p.notes = notes;
  else if (p.notes.find(notes) == std::string::npos && p.notes.size() + notes.size() < 3000) p.notes += "; then " + notes;

  std::vector<const MeasureItem*> todo;
  int asked = 0;
  for (const MeasureItem& item : items) {
    asked += item.asked;
    if (p.find(item.key) == nullptr) todo.push_back(&item);
  }
  if (resuming)
    err << "spindle-calibrate: resuming " << c.out << ": " << items.size() - todo.size() << " of " << items.size()
        << " keys there\n";
  ProgressLine progress(err, static_cast<int>(todo.size()), c.terminal);
  const TimingOptions options{c.warmup, c.repeats};
  for (size_t i = 0; i < todo.size(); ++i) {
    progress.update(static_cast<int>(i), todo[i]->key.str());
    if (!p.add(timer.measure(*todo[i], options))) throw InternalError("measured " + todo[i]->key.str() + " twice");
    write_profile(c.out, p);  // atomically: an interrupted run leaves the keys measured so far
  }
  if (!resuming && todo.empty()) write_profile(c.out, p);
  progress.finish(static_cast<int>(todo.size()));
  out << "spindle-calibrate: " << s.name << " at scale " << factors.name << " on " << c.backend << " ("
      << info.device << "; " << info.libraries << "; " << timer.timer() << "), " << dtype << "\n"
      << "  " << items.size() << " operator keys on the grid (" << grid.str() << "), " << todo.size()
      << " measured now, " << items.size() - todo.size() << " already in the profile; the estimator samples "
      << plan.estimator_keys << " keys, " << asked << " of them on the grid"
      << (asked < plan.estimator_keys ? ", the others between grid points (interpolated)" : "") << "\n"
      << "  profile: " << c.out << " (" << p.ops.size() << " operator points); its fits: spindle-calibrate --report "
      << c.out << "\n";
  return kExitOk;
}

}  // namespace spindle::calibrate
