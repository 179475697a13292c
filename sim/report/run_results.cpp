// Reading a run's output folder back (see run_results.h).
#include "sim/report/run_results.h"

#include <algorithm>
#include <limits>
#include <nlohmann/json.hpp>

#include "traces/atomic_file.h"
#include "traces/errors.h"

namespace spindle {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

json read_json(const fs::path& file) {
  std::error_code ec;
  if (!fs::is_regular_file(file, ec)) throw InputError(file.string() + ": no such file; allowed: a folder written by spindle-sim");
  try {
    return json::parse(read_file(file));
  } catch (const json::exception& e) {
    throw InputError(file.string() + ": not JSON (" + e.what() + "); allowed: a file written by spindle-sim");
  }
}

double number(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<double>() : 0.0;
}

std::string text(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

// Trace events of one GPU stream: compute (fwd/bwd), transfer and sync waits.
void read_bars(const fs::path& file, SystemRun& sr) {
  const json t = read_json(file);
  if (!t.contains("traceEvents")) throw InputError(file.string() + ": no traceEvents; allowed: a Chrome trace from spindle-sim");
  for (const json& e : t.at("traceEvents")) {
    if (text(e, "ph") != "X") continue;
    const std::string cat = text(e, "cat");
    Bar b;
    if (cat == "fwd") b.kind = BarKind::kForward;
    else if (cat == "bwd") b.kind = BarKind::kBackward;
    else if (cat == "transfer") b.kind = BarKind::kTransfer;
    else if (cat == "sync") b.kind = BarKind::kSync;
    else continue;
    b.gpu = static_cast<int>(number(e, "tid"));
    b.start_s = number(e, "ts") * 1e-6;
    b.end_s = b.start_s + number(e, "dur") * 1e-6;
    b.name = text(e, "name");
    if (e.contains("args") && e.at("args").contains("metaop")) {
      b.metaop = e.at("args").at("metaop").get<int>();
      if (e.at("args").contains("layers")) b.first_layer = e.at("args").at("layers")[0].get<int>();
    }
    sr.bars.push_back(std::move(b));
  }
  std::stable_sort(sr.bars.begin(), sr.bars.end(), [](const Bar& a, const Bar& b) {
    return std::pair(a.gpu, a.start_s) < std::pair(b.gpu, b.start_s);
  });
}

// The simulated start of every wave: the earliest compute of any of its slices.
void wave_starts(const json& plan, SystemRun& sr) {
  if (!plan.contains("waves")) return;
  const json& waves = plan.at("waves");
  sr.waves = static_cast<int>(waves.size());
  const double inf = std::numeric_limits<double>::infinity();
  sr.forward_wave_s.assign(waves.size(), inf);
  sr.backward_wave_s.assign(waves.size(), inf);
  for (const Bar& b : sr.bars) {
    if (b.kind != BarKind::kForward && b.kind != BarKind::kBackward) continue;
    const int layer = b.first_layer;
    for (size_t w = 0; w < waves.size(); ++w)
      for (const json& sl : waves[w].at("slices")) {
        if (sl.at("metaop").get<int>() != b.metaop) continue;
        if (layer < sl.at("first_layer").get<int>() || layer >= sl.at("last_layer").get<int>()) continue;
        double& at = b.kind == BarKind::kForward ? sr.forward_wave_s[w] : sr.backward_wave_s[w];
        at = std::min(at, b.start_s);
      }
  }
}

}  // namespace

const SystemRun* RunResults::find(const std::string& name) const {
  for (const SystemRun& s : systems)
    if (s.name == name) return &s;
  return nullptr;
}

std::map<int, double> RunResults::metaop_gpu_s(const SystemRun& s) const {
  std::map<int, double> out;
  for (const MetaOpInfo& m : metaops) out[m.id] = 0;
  for (const Bar& b : s.bars)
    if (b.metaop >= 0 && (b.kind == BarKind::kForward || b.kind == BarKind::kBackward)) out[b.metaop] += b.end_s - b.start_s;
  return out;
}

int task_colour(const MetaOpInfo& m) { return m.tasks.size() == 1 ? m.tasks.front() : -1; }

SystemRun measured_system(const RunResults& r, const SystemRun& sim, const fs::path& trace, double measured_s) {
  SystemRun m = sim;
  m.name = sim.name + " (measured)";
  m.simulated_s = measured_s;
  m.bars.clear();
  m.forward_wave_s.clear();
  m.backward_wave_s.clear();
  read_bars(trace, m);
  double compute = 0;
  for (const Bar& b : m.bars)
    if (b.kind == BarKind::kForward || b.kind == BarKind::kBackward) compute += b.end_s - b.start_s;
  m.utilization = r.gpus > 0 && measured_s > 0 ? compute / (r.gpus * measured_s) : 0;
  const fs::path plan = r.dir / (sim.system + ".plan.json");
  std::error_code ec;
  if (fs::is_regular_file(plan, ec)) wave_starts(read_json(plan), m);
  return m;
}

namespace {

RunResults read_run_checked(const fs::path& dir, int bars_up_to_gpus);

}  // namespace

// A missing key or a wrong type anywhere in the run's files is bad input, never a crash.
RunResults read_run(const fs::path& dir, int bars_up_to_gpus) {
  try {
    return read_run_checked(dir, bars_up_to_gpus);
  } catch (const json::exception& e) {
    throw InputError(dir.string() + ": " + e.what() + "; allowed: a folder written by spindle-sim");
  }
}

namespace {

RunResults read_run_checked(const fs::path& dir, int bars_up_to_gpus) {
  RunResults r;
  r.dir = dir;
  const fs::path file = dir / "summary.json";
  const json j = read_json(file);
  auto need = [&](const char* key) -> const json& {
    if (!j.contains(key)) throw InputError(file.string() + ": no '" + key + "'; allowed: summary.json written by spindle-sim");
    return j[key];
  };
  r.scenario = text(need("scenario"), "name");
  r.scenario_file = text(j.at("scenario"), "file");
  if (j.contains("verdict") && j["verdict"].is_string()) r.verdict = j["verdict"].get<std::string>();
  r.nodes = static_cast<int>(number(need("cluster"), "nodes"));
  r.gpus_per_node = static_cast<int>(number(j.at("cluster"), "gpus_per_node"));
  r.gpus = r.nodes * r.gpus_per_node;
  for (const json& t : need("tasks")) r.tasks.push_back(text(t, "name"));
  for (const json& m : need("metaops")) {
    MetaOpInfo mi;
    mi.id = m.at("id").get<int>();
    mi.layers = static_cast<int>(number(m, "L"));
    std::string shape;
    for (const json& d : m.at("shape")) shape += (shape.empty() ? "" : ", ") + std::to_string(d.get<long long>());
    if (!m.at("shape").empty()) mi.batch = m.at("shape")[0].get<double>();
    mi.label = "M" + std::to_string(mi.id) + " " + text(m, "component") + " " + text(m, "kind") + " x" +
               std::to_string(mi.layers) + " [" + shape + "]";
    for (const json& tn : m.at("tasks")) {
      auto it = std::find(r.tasks.begin(), r.tasks.end(), tn.get<std::string>());
      if (it != r.tasks.end()) mi.tasks.push_back(static_cast<int>(it - r.tasks.begin()));
    }
    for (const json& p : m.at("curve")) {
      CurvePoint cp;
      cp.n = p.at("n").get<int>();
      cp.t_s = number(p, "t_s");
      cp.fwd_s = number(p, "fwd_s");
      cp.bwd_s = number(p, "bwd_s");
      cp.measured = p.value("measured", false);
      cp.mem_GiB = number(p, "mem_GiB");
      mi.points.push_back(cp);
    }
    r.metaops.push_back(std::move(mi));
  }
  for (const json& s : need("systems")) {
    SystemRun sr;
    sr.name = text(s, "name");
    sr.system = text(s, "system");
    sr.placement = text(s, "placement");
    sr.planned_s = number(s, "planned_s");
    sr.simulated_s = number(s, "simulated_s");
    sr.speedup = number(s, "speedup_vs_sequential");
    sr.compute_s = number(s, "compute_s");
    sr.transfer_s = number(s, "transfer_s");
    sr.sync_s = number(s, "sync_s");
    sr.idle_s = number(s, "idle_s");
    sr.utilization = number(s, "gpu_utilization");
    sr.waves = static_cast<int>(number(s, "waves"));
    sr.trace = text(s, "trace");
    if (r.gpus <= bars_up_to_gpus && !sr.trace.empty()) {
      read_bars(dir / sr.trace, sr);
      const fs::path plan = dir / (sr.system + ".plan.json");
      std::error_code ec;
      if (fs::is_regular_file(plan, ec)) wave_starts(read_json(plan), sr);
    }
    r.systems.push_back(std::move(sr));
  }
  r.faults = j.contains("faults");
  if (r.faults) {  // fault what-ifs: each system on the healthy cluster
    r.faults_description = text(j.at("faults"), "description");
    r.healthy_gpus = static_cast<int>(number(j.at("faults"), "gpus_healthy"));
  }
  if (r.faults)
    for (const json& f : j.at("faults").at("systems"))
      for (SystemRun& sr : r.systems)
        if (sr.name == text(f, "name")) sr.healthy_s = number(f, "healthy_s");
  return r;
}

}  // namespace

}  // namespace spindle
