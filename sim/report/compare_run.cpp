// A simulated iteration against a measured one (see compare_run.h).
#include "sim/report/compare_run.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <tuple>

#include "sim/report/html_report.h"
#include "sim/report/run_results.h"
#include "sim/report/svg_charts.h"
#include "traces/atomic_file.h"
#include "traces/errors.h"
#include "traces/text_table.h"

namespace spindle {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const std::vector<std::string> kKinds = {"fwd", "bwd", "transfer", "sync", "tp"};

// One trace: its header and its slices (complete events) by GPU.
struct Trace {
  std::string file, scenario, system, clock, programs;
  double iteration_ms = 0;
  struct Slice {
    int gpu = 0;
    std::string name, kind;
    json args;
    double ms = 0;
  };
  std::vector<Slice> slices;
};

// SIM may be a folder (with :SYSTEM, default spindle) holding <system>.trace.json.
std::string trace_path(const std::string& spec) {
  std::string path = spec, system = "spindle";
  const size_t colon = spec.rfind(':');
  if (colon != std::string::npos && colon > 0) {
    path = spec.substr(0, colon);
    system = spec.substr(colon + 1);
  }
  std::error_code ec;
  if (fs::is_directory(path, ec)) return (fs::path(path) / (system + ".trace.json")).string();
  return spec;
}

Trace load(const std::string& spec, const std::string& clock) {
  Trace t;
  t.file = trace_path(spec);
  std::error_code ec;
  if (!fs::is_regular_file(t.file, ec))
    throw InputError(t.file + ": no such file; allowed: a trace written by spindle-sim or spindle-run --trace");
  json j;
  try {
    j = json::parse(read_file(t.file));
  } catch (const json::exception& e) {
    throw InputError(t.file + ": not a Chrome trace (" + e.what() + "); allowed: a trace written by spindle-sim or "
                     "spindle-run --trace");
  }
  const json other = j.value("otherData", json::object());
  if (!j.contains("traceEvents") || !j["traceEvents"].is_array() || !other.is_object())
    throw InputError(t.file + ": no traceEvents or otherData; allowed: a trace written by spindle-sim or spindle-run --trace");
  const std::string key = clock + "_ms";
  if (!other.contains(key) || !other[key].is_number())
    throw InputError(t.file + ": otherData has no " + key + "; allowed: a " + clock + " trace (" +
                     (clock == "simulated" ? "spindle-sim's <system>.trace.json" : "spindle-run --trace") + ") here");
  t.clock = clock;
  t.iteration_ms = other[key].get<double>();
  t.scenario = other.value("scenario", "");
  t.system = other.value("system", "");
  t.programs = other.value("programs", "");  // absent in traces written before it was recorded
  for (const json& e : j["traceEvents"]) {
    if (!e.is_object() || e.value("ph", "") != "X") continue;
    const std::string kind = e.value("cat", "");
    if (std::find(kKinds.begin(), kKinds.end(), kind) == kKinds.end()) continue;
    t.slices.push_back({e.value("tid", 0), e.value("name", ""), kind, e.value("args", json::object()),
                        e.value("dur", 0.0) / 1e3});
  }
  return t;
}

// What identifies a compute slice in both traces: GPU, name (task, MetaOp, layers, direction)
// and rows; the occurrence counts repeats.
using SliceKey = std::tuple<int, std::string, std::string, int>;

std::string percent(double e) { return (e >= 0 ? "+" : "") + fixed(100 * e, 1) + "%"; }

}  // namespace

double SliceError::error() const { return measured_ms > 0 ? (simulated_ms - measured_ms) / measured_ms : 0; }

double RunComparison::median_abs_slice_error() const {
  if (slices.empty()) return 0;
  std::vector<double> e;
  for (const SliceError& s : slices) e.push_back(std::abs(s.error()));
  std::sort(e.begin(), e.end());
  const size_t n = e.size();
  return n % 2 ? e[n / 2] : (e[n / 2 - 1] + e[n / 2]) / 2;
}

const SliceError* RunComparison::worst_slice() const {
  const SliceError* w = nullptr;
  for (const SliceError& s : slices)
    if (!w || std::abs(s.error()) > std::abs(w->error())) w = &s;
  return w;
}

RunComparison compare_run(const std::string& sim, const std::string& run) {
  const Trace s = load(sim, "simulated"), m = load(run, "measured");
  // The run names its plan by system or by plan file: the slices, matched one by one below,
  // are what must agree.
  if (s.scenario != m.scenario)
    throw InputError(m.file + ": a run of " + m.scenario + ", but " + s.file + " simulates " + s.scenario +
                     "; allowed: the same scenario and plan on both sides");
  if (!s.programs.empty() && !m.programs.empty() && s.programs != m.programs)
    throw InputError(m.file + ": ran other programs than " + s.file + " simulates (programs " + m.programs +
                     " against " + s.programs + "); allowed: the same plan on both sides (spindle-sim SCENARIO --plan "
                     "P, spindle-run SCENARIO --plan P, with the same --set and --scale)");
  RunComparison c;
  c.scenario = s.scenario;
  c.system = s.system == m.system ? s.system : s.system + " (run: " + m.system + ")";
  c.simulated_ms = s.iteration_ms;
  c.measured_ms = m.iteration_ms;
  c.kinds = kKinds;
  c.kind_simulated_ms.assign(kKinds.size(), 0);
  c.kind_measured_ms.assign(kKinds.size(), 0);
  auto kind_index = [](const std::string& k) {
    return static_cast<size_t>(std::find(kKinds.begin(), kKinds.end(), k) - kKinds.begin());
  };
  for (const Trace::Slice& x : s.slices) c.kind_simulated_ms[kind_index(x.kind)] += x.ms;
  for (const Trace::Slice& x : m.slices) c.kind_measured_ms[kind_index(x.kind)] += x.ms;
  // Compute slices matched by key and occurrence.
  auto keys = [](const Trace& t) {
    std::map<SliceKey, const Trace::Slice*> out;
    std::map<std::tuple<int, std::string, std::string>, int> seen;
    std::vector<SliceKey> order;
    for (const Trace::Slice& x : t.slices) {
      if (x.kind != "fwd" && x.kind != "bwd") continue;
      const std::string rows = x.args.contains("rows") ? x.args["rows"].dump() : "";
      const int n = seen[{x.gpu, x.name, rows}]++;
      out[{x.gpu, x.name, rows, n}] = &x;
    }
    return out;
  };
  const auto sk = keys(s), mk = keys(m);
  for (const auto& [key, x] : sk) {
    const auto it = mk.find(key);
    if (it == mk.end())
      throw InputError(m.file + ": no slice '" + x->name + "' on GPU " + std::to_string(x->gpu) + " that " + s.file +
                       " has; allowed: traces of the same plan (spindle-run --plan <system>.plan.json)");
    c.slices.push_back({x->gpu, x->name, x->ms, it->second->ms});
  }
  if (mk.size() != sk.size())
    throw InputError(m.file + ": " + std::to_string(mk.size()) + " compute slices against " + std::to_string(sk.size()) +
                     " in " + s.file + "; allowed: traces of the same plan");
  return c;  // slices in key order: GPU, name, rows, occurrence
}

std::string compare_run_text(const RunComparison& c) {
  auto err = [](double sim, double meas) { return meas > 0 ? percent((sim - meas) / meas) : std::string("-"); };
  std::string out = "Simulated against measured: " + c.scenario + ", " + c.system + "\n\n";
  out += "iteration: simulated " + fixed(c.simulated_ms, 3) + " ms, measured " + fixed(c.measured_ms, 3) +
         " ms, error " + err(c.simulated_ms, c.measured_ms) + "\n\n";
  TextTable kinds;
  kinds.add_column("kind (sum over GPUs)", TextTable::Align::kLeft);
  for (const char* h : {"simulated ms", "measured ms", "error"}) kinds.add_column(h, TextTable::Align::kRight);
  for (size_t i = 0; i < c.kinds.size(); ++i)
    kinds.add_row({c.kinds[i], fixed(c.kind_simulated_ms[i], 3), fixed(c.kind_measured_ms[i], 3),
                   err(c.kind_simulated_ms[i], c.kind_measured_ms[i])});
  out += kinds.render() + "\n";
  out += std::to_string(c.slices.size()) + " compute slices: median |error| " +
         fixed(100 * c.median_abs_slice_error(), 1) + "%";
  if (const SliceError* w = c.worst_slice())
    out += ", worst " + percent(w->error()) + " (GPU " + std::to_string(w->gpu) + " " + w->name + ")";
  out += "\n\n";
  TextTable slices;
  slices.add_column("GPU", TextTable::Align::kRight);
  slices.add_column("slice", TextTable::Align::kLeft);
  for (const char* h : {"simulated ms", "measured ms", "error"}) slices.add_column(h, TextTable::Align::kRight);
  for (const SliceError& s : c.slices)
    slices.add_row({std::to_string(s.gpu), s.name, fixed(s.simulated_ms, 3), fixed(s.measured_ms, 3),
                    percent(s.error())});
  return out + slices.render();
}

std::string compare_run_html(const std::string& sim, const std::string& run, const RunComparison& c) {
  const std::string trace = trace_path(sim);
  const fs::path dir = fs::path(trace).parent_path().empty() ? fs::path(".") : fs::path(trace).parent_path();
  std::error_code ec;
  if (!fs::is_regular_file(dir / "summary.json", ec))
    throw InputError(trace + ": no summary.json beside it; allowed for --html: a trace in a folder spindle-sim wrote "
                     "(DIR:SYSTEM)");
  const RunResults r = read_run(dir);
  const SystemRun* s = nullptr;
  for (const SystemRun& x : r.systems)
    if (!x.trace.empty() && fs::weakly_canonical(dir / x.trace, ec) == fs::weakly_canonical(trace, ec)) s = &x;
  if (s == nullptr)
    throw InputError(trace + ": not a trace that " + (dir / "summary.json").string() + " names; allowed: DIR:SYSTEM");
  const SystemRun m = measured_system(r, *s, trace_path(run), c.measured_ms * 1e-3);
  const double scale = std::max(c.simulated_ms, c.measured_ms) * 1e-3;
  std::string html = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>" +
                     html_escape(c.scenario + ": simulated against measured") +
                     "</title><style>body{font-family:sans-serif;margin:2em} pre{font-size:12px}</style></head><body>\n";
  html += "<h1>" + html_escape(c.scenario + ", " + c.system) + ": simulated against measured</h1>\n";
  html += "<h2>Simulated (" + fixed(c.simulated_ms, 3) + " ms)</h2>\n" + gantt_svg(r, *s, scale) + "\n";
  html += "<h2>Measured (" + fixed(c.measured_ms, 3) + " ms, " + html_escape(run) + ")</h2>\n" + gantt_svg(r, m, scale, "measured") + "\n";
  html += "<pre>" + html_escape(compare_run_text(c)) + "</pre>\n</body></html>\n";
  return html;
}

}  // namespace spindle

