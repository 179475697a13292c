// spindle-calibrate behind its flags (see calibrate_command.h).
#include "calibrate/calibrate_command.h"

#include <algorithm>
#include <filesystem>
#include <memory>

#include "calibrate/cuda_registry.h"
#include "calibrate/measure/collective_timer.h"
#include "calibrate/measure/device_info.h"
#include "calibrate/measure/op_timer.h"
#include "calibrate/measure/progress_line.h"
#include "calibrate/plan/measure_plan.h"
#include "calibrate/report/profile_report.h"
#include "engine/backend_registry.h"
#include "engine/comm/mpi_comm.h"
#include "planner/config/model_scale.h"
#include "planner/config/scenario.h"
#include "planner/graph/graph_builder.h"
#include "planner/graph/metagraph.h"
#include "traces/errors.h"
#include "traces/main_guard.h"
#include "traces/profile.h"
#include "traces/text_table.h"

namespace spindle::calibrate {

namespace fs = std::filesystem;

namespace {

// nccl-tests' bus bandwidth factor of a kind over n ranks.
double bus_factor(const std::string& kind, int n) {
  if (kind == "all_reduce") return 2.0 * (n - 1) / n;
  if (kind == "all_gather" || kind == "reduce_scatter") return static_cast<double>(n - 1) / n;
  return 1.0;
}

// --collectives: every rank measures; rank 0 merges the rows into --out (a new profile, or one
// of the same backend and device whose rows of the same shape it replaces) and prints them.
int collectives_command(const CalibrateCommand& c, std::ostream& out, std::ostream& err) {
  for (const std::string& flag : c.given)
    if (flag != "--collectives" && flag != "--out" && flag != "--backend" && flag != "--max-bytes" &&
        flag != "--warmup" && flag != "--repeats")
      throw InputError("--collectives with " + flag + ": times collectives, no operators; allowed: --out, --backend, "
                       "--max-bytes, --warmup, --repeats");
  if (!c.scenario_file.empty())
    throw InputError("--collectives with " + c.scenario_file + ": allowed: no SCENARIO (collectives do not depend on one)");
  // The MPI communicator counts in ints (bytes for send/recv): 1 GiB at most there.
  const std::int64_t limit = c.backend == "cpu" ? std::int64_t{1} << 30 : std::int64_t{8} << 30;
  if (c.max_bytes < 8 || c.max_bytes > limit)
    throw InputError("--max-bytes " + std::to_string(c.max_bytes) + ": allowed: 8 to " + std::to_string(limit) +
                     " on --backend " + c.backend);
  if (!engine::launched_by_mpi())
    throw InputError("--collectives: not started by mpirun or srun; allowed: mpirun -np N spindle-calibrate "
                     "--collectives --out FILE.h5 with N >= 2 (one rank moves nothing, and nothing is stored)");
  const engine::MpiSession mpi;
  const int ranks = mpi.size();
  // Every rank agrees on what rank 0 finds wrong (sizes, the existing profile, --out) before
  // any measurement, and every rank throws the same line: none is left waiting for another.
  std::unique_ptr<engine::Backend> be = engine::make_backend(c.backend);
  const DeviceInfo info = device_info(c.backend);
  Profile p;
  std::string problem;
  if (mpi.rank() == 0) {
    try {
      if (collective_sizes(c.max_bytes, ranks).empty())
        throw InputError("--max-bytes " + std::to_string(c.max_bytes) + ": no size leaves each of " +
                         std::to_string(ranks) + " ranks a float; allowed: " + std::to_string(4 * ranks) + " or more");
      std::error_code ec;
      if (fs::exists(c.out, ec)) {
        p = read_profile(c.out);
        if (p.backend != c.backend || p.device != info.device)
          throw InputError(c.out + ": a profile of " + p.backend + " on '" + p.device + "', this run is " + c.backend +
                           " on '" + info.device + "'; allowed: the same backend and device, or a new --out");
      } else {
        p.backend = c.backend;
        p.device = info.device;
        p.timer = "steady_clock";
        p.libraries = info.libraries;
        p.date = utc_now();
      }
      write_profile(c.out, p);  // --out is writable (the same content where it was there)
    } catch (const Error& e) {
      problem = e.what();
    }
  }
  for (const std::string& said : mpi.all_gather(problem))
    if (!said.empty()) throw InputError(said);
  ProgressLine progress(err, static_cast<int>(collective_sizes(c.max_bytes, ranks).size() * 4), c.terminal);
  std::vector<CollectiveMeasurement> rows;
  try {
    rows = measure_collectives(*be, mpi, {c.max_bytes, c.warmup, c.repeats},
                               [&](int done, int, const std::string& what) { progress.update(done, what); });
  } catch (const std::exception& e) {  // one rank's failure must not leave the others waiting
    mpi.abort("spindle-calibrate: MPI rank " + std::to_string(mpi.rank()) + " of " + std::to_string(ranks) +
                  " failed measuring collectives: " + e.what() + "; ending every rank",
              1);
  }
  if (mpi.rank() != 0) return kExitOk;
  progress.finish(static_cast<int>(rows.size()));
  auto same = [](const CollectiveMeasurement& a, const CollectiveMeasurement& b) {
    return a.kind == b.kind && a.algorithm == b.algorithm && a.ranks == b.ranks && a.nodes == b.nodes &&
           a.ranks_per_node == b.ranks_per_node && a.bytes == b.bytes;
  };
  for (const CollectiveMeasurement& r : rows) {
    auto it = std::find_if(p.collectives.begin(), p.collectives.end(), [&](const auto& x) { return same(x, r); });
    if (it != p.collectives.end()) *it = r;
    else p.collectives.push_back(r);
  }
  const std::string note = "collectives over " + std::to_string(ranks) + " ranks on " + std::to_string(rows.front().nodes) +
                           " node(s) through the engine's " + (c.backend == "cpu" ? "MPI" : "backend's") +
                           " communicator, " + std::to_string(c.warmup) + " warm-up + " + std::to_string(c.repeats) +
                           " timed runs, the slowest rank's time";
  if (p.notes.find(note) == std::string::npos && p.notes.size() + note.size() < 3000)
    p.notes += (p.notes.empty() ? "" : "; ") + note;
  write_profile(c.out, p);
  TextTable t;
  t.add_column("bytes", TextTable::Align::kRight);
  for (const char* h : {"all_reduce us", "busbw GB/s", "all_gather us", "busbw GB/s", "reduce_scatter us",
                        "busbw GB/s", "broadcast us", "busbw GB/s", "send_recv us", "GB/s"})
    t.add_column(h, TextTable::Align::kRight);
  for (std::int64_t b : collective_sizes(c.max_bytes, ranks)) {
    std::vector<std::string> cells{std::to_string(b)};
    for (const char* kind : {"all_reduce", "all_gather", "reduce_scatter", "broadcast", "send_recv"})
      for (const CollectiveMeasurement& r : rows)
        if (r.kind == kind && r.bytes == b) {
          cells.push_back(fixed(r.time_ms * 1e3, 1));
          cells.push_back(fixed(static_cast<double>(b) / (r.time_ms * 1e-3) / 1e9 * bus_factor(r.kind, ranks), 3));
        }
    t.add_row(cells);
  }
  out << "spindle-calibrate: collectives over " << ranks << " ranks (" << rows.front().nodes << " node(s), at most "
      << rows.front().ranks_per_node << " per node) on " << c.backend << " (" << info.device << ")\n"
      << t.render() << "  profile: " << c.out << " (" << p.collectives.size() << " collective rows)\n";
  return kExitOk;
}

}  // namespace

std::string default_grid_scenario() { return (default_data_dir() / "calibrate" / "default-grid.toml").string(); }

int calibrate_command(const CalibrateCommand& c, std::ostream& out, std::ostream& err) {
  if (c.collectives && !c.report.empty())
    throw InputError("--collectives with --report " + c.report + "; allowed: one of them");
  if (c.warmup < 0 || c.warmup > 100000)
    throw InputError("--warmup " + std::to_string(c.warmup) + ": allowed: 0 to 100000 untimed runs per key");
  if (c.repeats < 1 || c.repeats > 100000)
    throw InputError("--repeats " + std::to_string(c.repeats) + ": allowed: 1 to 100000 timed runs per key");
  if (c.collectives) {
    if (c.out.empty()) throw InputError("--out: missing; allowed: --out FILE.h5 (the profile to write)");
    return collectives_command(c, out, err);
  }
  for (const std::string& flag : c.given)
    if (flag == "--max-bytes") throw InputError("--max-bytes without --collectives; allowed: with --collectives");
  if (!c.report.empty()) {
    if (!c.scenario_file.empty() || !c.out.empty() || c.resume)
      throw InputError("--report " + c.report + ": prints a profile; allowed: --report FILE.h5 alone (no SCENARIO, "
                       "--out or --resume)");
    out << profile_report(read_profile(c.report));
    return kExitOk;
  }
  if (c.out.empty())
    throw InputError("--out: missing; allowed: --out FILE.h5 (the profile to write), or --report FILE.h5");
  const Grid grid = Grid::parse(c.grid);
  const ScaleFactors factors = find_scale(c.scale);
  const std::string dtype = c.dtype.empty() ? (c.backend == "cpu" ? "fp32" : "bf16") : c.dtype;
  if (dtype != "fp32" && dtype != "bf16")
    throw InputError("--dtype " + dtype + ": allowed: fp32, bf16 (how activations are stored, as spindle-run's --dtype)");
  std::unique_ptr<engine::Backend> be = engine::make_backend(c.backend);
  be->set_activation_dtype(dtype == "bf16" ? engine::DType::kBF16 : engine::DType::kF32);

  const std::string file = c.scenario_file.empty() ? default_grid_scenario() : c.scenario_file;
  LoadOptions lo;
  lo.overrides = c.sets;
  const Scenario s = scale_scenario(load_scenario(file, lo), factors);
  const Graph g = build_graph(s);
  const MetaGraph mg = contract(g);
  const MeasurePlan plan = measure_plan(s, g, mg, grid, dtype);
  const std::vector<MeasureItem>& items = plan.items;
  const std::uint64_t seed = c.seed >= 0 ? static_cast<std::uint64_t>(c.seed) : s.seed;
  const DeviceInfo info = device_info(c.backend);
  // On a GPU each timed pass's kernels too (CUPTI); where CUPTI cannot, the events alone, and
  // the profile's timer says why.
  std::string unrecorded;
  const std::unique_ptr<KernelRecorder> recorder = open_kernel_recorder(c.backend, unrecorded);
  OpTimer timer(s, g, *be, seed, recorder.get(), c.backend == "cpu" ? "" : unrecorded);

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
  const size_t operators_todo = todo.size();
  for (const MeasureItem& item : plan.optimizer)
    if (p.find(item.key) == nullptr) todo.push_back(&item);
  const size_t all = items.size() + plan.optimizer.size();
  if (resuming)
    err << "spindle-calibrate: resuming " << c.out << ": " << all - todo.size() << " of " << all << " keys there\n";
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
      << "  " << items.size() << " operator keys on the grid (" << grid.str() << "), " << operators_todo
      << " measured now, " << items.size() - operators_todo << " already in the profile; the estimator samples "
      << plan.estimator_keys << " keys, " << asked << " of them on the grid"
      << (asked < plan.estimator_keys ? ", the others between grid points (interpolated)" : "") << "\n"
      << "  the optimizer (AdamW and the gradient norm) on weight tensors of " << plan.optimizer.front().key.batch << " to "
      << plan.optimizer.back().key.batch << " elements (" << plan.optimizer.size() << " sizes)\n"
      << "  profile: " << c.out << " (" << p.ops.size() << " operator points); its fits: spindle-calibrate --report "
      << c.out << "\n";
  return kExitOk;
}

}  // namespace spindle::calibrate
