// Healthy, faulted and drained clusters side by side (see fault_whatif.h).
#include "sim/faults/fault_whatif.h"

#include <map>

#include <nlohmann/json.hpp>

#include "planner/pipeline.h"
#include "sim/replay/simulation.h"
#include "sim/report/sim_report.h"
#include "traces/errors.h"
#include "traces/text_table.h"

namespace spindle {
namespace {

// Every system planned (Spindle's placement, no ablation row) and simulated on `s`.
std::map<std::string, double> simulated_times(Scenario s, const std::vector<std::string>& systems,
                                              const Profile* profile, const NetworkOptions& net) {
  const ScenarioModel m(std::move(s), profile);
  const std::vector<PlannedSystem> planned = plan_systems(m, systems, /*placement_ablation=*/false);
  std::vector<Programs> programs;
  for (const PlannedSystem& ps : planned) programs.push_back(lower_checked(m, ps.plan));
  const std::vector<ReplayResult> results = simulate(m, programs, net);
  std::map<std::string, double> out;
  for (size_t i = 0; i < planned.size(); ++i) out[simulated_name(planned[i])] = results[i].iteration_s;
  return out;
}

std::string factor(double x) { return fixed(x, 2) + "x"; }

}  // namespace

FaultComparison compare_faults(const Scenario& as_written, const std::vector<std::string>& systems,
                               const std::vector<std::string>& names, const std::vector<ReplayResult>& faulted,
                               const Profile* profile, const NetworkOptions& net) {
  const Faults& faults = as_written.faults;
  const int gpn = as_written.cluster.gpus_per_node;
  FaultComparison f;
  f.description = faults.describe(gpn);
  f.healthy_gpus = as_written.cluster.gpus();
  f.faulted_gpus = after_faults(as_written, StragglerPolicy::kKeep).cluster.gpus();
  const std::map<std::string, double> healthy = simulated_times(without_faults(as_written), systems, profile, net);
  std::map<std::string, double> drained;
  if (faults.slows()) {
    const std::vector<int> gone = drained_nodes(faults, as_written.cluster, StragglerPolicy::kDrain);
    if (static_cast<int>(gone.size()) >= as_written.cluster.nodes) {
      f.drained_note = "draining the stragglers' nodes would leave no node";
    } else {
      const Scenario d = after_faults(as_written, StragglerPolicy::kDrain);
      f.drained_gpus = d.cluster.gpus();
      drained = simulated_times(d, systems, profile, net);
    }
  }
  for (size_t i = 0; i < names.size() && i < faulted.size(); ++i) {
    const auto h = healthy.find(names[i]);
    if (h == healthy.end()) continue;  // the placement ablation row, a plan read from a file
    FaultRow r{names[i], h->second, faulted[i].iteration_s};
    if (const auto d = drained.find(names[i]); d != drained.end()) r.drained_s = d->second;
    f.rows.push_back(r);
  }
  return f;
}

std::string faults_text(const FaultComparison& f) {
  std::string out = "Faults: " + f.description + "\n  " + std::to_string(f.healthy_gpus) + " GPUs healthy, " +
                    std::to_string(f.faulted_gpus) + " left after draining failed nodes";
  if (f.drained_gpus > 0) out += ", " + std::to_string(f.drained_gpus) + " with the stragglers' nodes drained too";
  if (!f.drained_note.empty()) out += " (" + f.drained_note + ")";
  out += "\n";
  const bool drained = f.drained_gpus > 0;
  TextTable t;
  t.add_column("system", TextTable::Align::kLeft);
  t.add_column("healthy ms", TextTable::Align::kRight);
  t.add_column(drained ? "stragglers kept ms" : "faulted ms", TextTable::Align::kRight);
  t.add_column("slowdown", TextTable::Align::kRight);
  if (drained) {
    t.add_column("stragglers drained ms", TextTable::Align::kRight);
    t.add_column("slowdown", TextTable::Align::kRight);
    t.add_column("faster", TextTable::Align::kLeft);
  }
  for (const FaultRow& r : f.rows) {
    std::vector<std::string> row = {r.system, fixed(r.healthy_s * 1e3, 2), fixed(r.faulted_s * 1e3, 2),
                                    factor(r.faulted_s / r.healthy_s)};
    if (drained) {
      row.push_back(r.drained_s >= 0 ? fixed(r.drained_s * 1e3, 2) : "-");
      row.push_back(r.drained_s >= 0 ? factor(r.drained_s / r.healthy_s) : "-");
      row.push_back(r.drained_s < 0 ? "" : r.drained_s < r.faulted_s ? "drain" : "keep");
    }
    t.add_row(std::move(row));
  }
  return out + t.render();
}

std::string merge_faults_json(const std::string& summary_json, const FaultComparison& f) {
  using nlohmann::ordered_json;
  ordered_json j = ordered_json::parse(summary_json);
  ordered_json systems = ordered_json::array();
  for (const FaultRow& r : f.rows) {
    ordered_json e = {{"name", r.system}, {"healthy_s", r.healthy_s}, {"simulated_s", r.faulted_s},
                      {"slowdown", r.faulted_s / r.healthy_s}};
    if (r.drained_s >= 0) {
      e["drained_s"] = r.drained_s;
      e["drained_slowdown"] = r.drained_s / r.healthy_s;
      e["stragglers"] = r.drained_s < r.faulted_s ? "drain" : "keep";
    }
    systems.push_back(std::move(e));
  }
  j["faults"] = {{"description", f.description}, {"gpus_healthy", f.healthy_gpus}, {"gpus_left", f.faulted_gpus},
                 {"gpus_drained", f.drained_gpus}, {"systems", std::move(systems)}};
  return j.dump(2, ' ', false, ordered_json::error_handler_t::replace) + "\n";
}

}  // namespace spindle
