// Simulation tables and JSON fields (see sim_report.h).
#include "sim/report/sim_report.h"

#include <cmath>

#include <nlohmann/json.hpp>

#include "sim/replay/collective_bench.h"
#include "traces/errors.h"
#include "traces/text_table.h"

namespace spindle {
namespace {

double sequential_s(const std::vector<PlannedSystem>& systems, const std::vector<ReplayResult>& results) {
  for (size_t i = 0; i < systems.size(); ++i)
    if (systems[i].plan.system == "sequential" && systems[i].placement_label.empty() && systems[i].from_file.empty())
      return results[i].iteration_s;
  return 0;
}

}  // namespace

std::string verdict_line(const std::vector<VerdictRow>& rows) {
  const VerdictRow* spindle = nullptr;
  const VerdictRow* other = nullptr;
  bool any_fits = false;
  for (const VerdictRow& row : rows) any_fits = any_fits || (row.name != "spindle" && row.fits);
  for (const VerdictRow& row : rows) {
    if (row.name == "spindle") spindle = &row;
    else if ((row.fits || !any_fits) && (other == nullptr || row.sim.simulated_s < other->sim.simulated_s)) other = &row;
  }
  if (spindle == nullptr || other == nullptr) return "";
  std::string unfit;
  for (const VerdictRow& row : rows)
    if (row.name != "spindle" && !row.fits && any_fits && row.sim.simulated_s < spindle->sim.simulated_s)
      unfit += (unfit.empty() ? "" : ", ") + row.name;
  if (!unfit.empty()) unfit = "; faster but over the GPUs' memory: " + unfit;
  if (!spindle->from.empty()) unfit += "; spindle runs " + spindle->from + "'s plan (its estimate was the fastest)";
  const SimSummary& o = other->sim;
  // The category where the two differ most, as "what a vs b ms".
  struct Part {
    const char* what;
    double a, b;
  };
  const bool spindle_wins = spindle->sim.simulated_s <= o.simulated_s;
  const SimSummary& win = spindle_wins ? spindle->sim : o;
  const SimSummary& lose = spindle_wins ? o : spindle->sim;
  const Part parts[] = {{"compute", win.compute_s, lose.compute_s},
                        {"transfer", win.transfer_s, lose.transfer_s},
                        {"weight sync", win.sync_s, lose.sync_s},
                        {"idle", win.idle_s, lose.idle_s}};
  const Part* cause = &parts[0];
  for (const Part& p : parts)
    if (p.b - p.a > cause->b - cause->a) cause = &p;
  const std::string why = std::string(cause->what) + " " + fixed(cause->a * 1e3, 1) + " vs " + fixed(cause->b * 1e3, 1) +
                          " ms per GPU";
  if (std::abs(spindle->sim.simulated_s / o.simulated_s - 1) < 0.005)
    return "spindle and " + other->name + " tie (" + fixed(spindle->sim.simulated_s * 1e3, 3) + " vs " +
           fixed(o.simulated_s * 1e3, 3) + " ms)" + unfit;
  if (spindle_wins)
    return "spindle is the fastest: " + fixed(o.simulated_s / spindle->sim.simulated_s, 2) + "x over " + other->name +
           ", the next (" + why + ")" + unfit;
  return other->name + " is " + fixed(spindle->sim.simulated_s / o.simulated_s, 2) + "x faster than spindle: " + why +
         unfit;
}

SimSummary summarize(const ReplayResult& r) {
  SimSummary s;
  s.simulated_s = r.iteration_s;
  if (r.devices.empty()) return s;
  for (size_t d = 0; d < r.devices.size(); ++d) {
    const DeviceTime& t = r.devices[d];
    s.forward_s += t.forward_s;
    s.backward_s += t.backward_s;
    s.transfer_s += t.transfer_s;
    s.sync_s += t.sync_s;
    s.idle_s += r.idle_s(static_cast<int>(d));
  }
  const double n = static_cast<double>(r.devices.size());
  for (double* x : {&s.forward_s, &s.backward_s, &s.transfer_s, &s.sync_s, &s.idle_s}) *x /= n;
  s.compute_s = s.forward_s + s.backward_s;
  return s;
}

std::string simulated_name(const PlannedSystem& ps) {
  return ps.placement_label.empty() ? ps.plan.system : ps.plan.system + "." + ps.placement_label;
}

static std::string network_line(const Scenario& s, const NetworkOptions& o) {
  const Cluster& c = s.cluster;
  return "NVLink " + fixed(c.intra_node.bw_GBps, 0) + " GB/s x " + fixed(c.intra_node.efficiency, 2) + ", " +
         fixed(c.intra_node.latency_us, 1) + " us; network " + fixed(c.inter_node.bw_GBps, 0) + " GB/s per node x " +
         fixed(c.inter_node.efficiency, 2) + ", " + fixed(c.inter_node.latency_us, 1) + " us, NIC " +
         (c.nic == NicPlacement::kPerGpu ? "per GPU" : "per node") + ", " + std::to_string(c.nodes_per_leaf) +
         " node(s) per leaf, oversubscription " + fixed(c.oversubscription, 2) + "; collectives " +
         collective_model_text(c, o);
}

std::string simulation_text(const Scenario& s, const std::vector<PlannedSystem>& systems,
                            const std::vector<ReplayResult>& results, const std::vector<std::string>& traces,
                            const NetworkOptions& options) {
  if (systems.size() != results.size()) throw InternalError("simulation_text: systems and results differ in count");
  std::string out = "Simulation  " + std::to_string(s.cluster.gpus()) + " GPUs on SimGrid (CM02, split-duplex): " +
                    network_line(s, options) + "\n";
  using A = TextTable::Align;
  TextTable t;
  for (auto [h, a] : std::vector<std::pair<const char*, A>>{{"system", A::kLeft},
                                                             {"planned ms", A::kRight},
                                                             {"estimated ms", A::kRight},
                                                             {"simulated ms", A::kRight},
                                                             {"sim/planned", A::kRight},
                                                             {"est. error", A::kRight},
                                                             {"speedup vs sequential", A::kRight},
                                                             {"compute ms", A::kRight},
                                                             {"transfer ms", A::kRight},
                                                             {"sync ms", A::kRight},
                                                             {"idle ms", A::kRight},
                                                             {"GPU util", A::kRight},
                                                             {"peak GiB/GPU", A::kRight}})
    t.add_column(h, a);
  const double seq = sequential_s(systems, results);
  for (size_t i = 0; i < systems.size(); ++i) {
    const SimSummary m = summarize(results[i]);
    const Plan& p = systems[i].plan;
    std::string name = p.system;
    if (!systems[i].placement_label.empty()) name += " (" + systems[i].placement_label + ")";
    if (!systems[i].from_file.empty()) name += " (from " + systems[i].from_file + ")";
    t.add_row({name, fixed(p.planned_s * 1e3, 3), fixed(systems[i].estimated_s * 1e3, 3), fixed(m.simulated_s * 1e3, 3),
               fixed(m.simulated_s / p.planned_s, 3),
               fixed(100 * (systems[i].estimated_s / m.simulated_s - 1), 1) + "%",
               seq > 0 ? fixed(seq / m.simulated_s, 2) + "x" : "-", fixed(m.compute_s * 1e3, 3),
               fixed(m.transfer_s * 1e3, 3), fixed(m.sync_s * 1e3, 3), fixed(m.idle_s * 1e3, 3),
               fixed(100 * m.utilization(), 1) + "%", fixed(systems[i].placement.peak_mem_GiB, 1)});
  }
  out += t.render();
  std::vector<VerdictRow> rows;
  for (size_t i = 0; i < systems.size(); ++i)
    if (systems[i].placement_label.empty() && systems[i].from_file.empty())
      rows.push_back({systems[i].plan.system, summarize(results[i]), systems[i].placement.over_memory_devices == 0,
                      systems[i].plan.schedule_from});
  if (const std::string v = verdict_line(rows); !v.empty()) out += "  " + v + "\n";
  out += "  per GPU, means over GPUs: compute = forward + backward; transfer = blocked on activations, their gradients "
         "and contrastive gathers once sent; sync = blocked on weight-gradient sync once every member arrived; idle = "
         "the rest (waiting for inputs, for other members, after the program ends)\n";
  bool any = false;
  for (const std::string& tr : traces) any = any || !tr.empty();
  if (any) {
    out += "  traces (Chrome trace events; open in https://ui.perfetto.dev):\n";
    for (const std::string& tr : traces)
      if (!tr.empty()) out += "    " + tr + "\n";
  }
  return out;
}

std::string merge_simulation_json(const std::string& summary_json, const Scenario& s,
                                  const std::vector<ReplayResult>& results, const std::vector<std::string>& traces,
                                  const NetworkOptions& options) {
  using nlohmann::ordered_json;
  ordered_json j = ordered_json::parse(summary_json);
  ordered_json& list = j["systems"];
  if (!list.is_array() || list.size() != results.size())
    throw InternalError("merge_simulation_json: the summary's systems do not match the simulations");
  double seq = 0;
  for (size_t i = 0; i < results.size(); ++i)
    if (list[i]["name"] == "sequential" && list[i]["placement"] == "spindle") seq = results[i].iteration_s;
  for (size_t i = 0; i < results.size(); ++i) {
    const SimSummary m = summarize(results[i]);
    ordered_json& e = list[i];
    e["simulated_s"] = m.simulated_s;
    e["estimate_error"] = e["estimated_s"].get<double>() / m.simulated_s - 1;
    e["speedup_vs_sequential"] = seq > 0 ? ordered_json(seq / m.simulated_s) : ordered_json(nullptr);
    e["compute_s"] = m.compute_s;
    e["forward_s"] = m.forward_s;
    e["backward_s"] = m.backward_s;
    e["transfer_s"] = m.transfer_s;
    e["sync_s"] = m.sync_s;
    e["idle_s"] = m.idle_s;
    e["gpu_utilization"] = m.utilization();
    e["trace"] = i < traces.size() ? traces[i] : "";
  }
  std::vector<VerdictRow> rows;
  for (size_t i = 0; i < results.size(); ++i)
    if (list[i]["placement"] == "spindle")
      rows.push_back({list[i]["name"].get<std::string>(), summarize(results[i]), list[i]["over_memory_devices"] == 0,
                      list[i]["schedule_from"].get<std::string>()});
  j["verdict"] = verdict_line(rows);
  const Cluster& c = s.cluster;
  j["network"] = {{"model", "CM02"},
                  {"intra_node_efficiency", c.intra_node.efficiency},
                  {"inter_node_efficiency", c.inter_node.efficiency},
                  {"nic", c.nic == NicPlacement::kPerGpu ? "per_gpu" : "per_node"},
                  {"nodes_per_leaf", c.nodes_per_leaf},
                  {"oversubscription", c.oversubscription},
                  {"collectives", collective_model_name(c.collectives)},
                  {"nccl_algo", c.nccl_algo},
                  {"collective_flows", c.collectives == CollectiveModel::kNccl ? "pipelined"
                                       : options.ring_steps                    ? "ring_steps"
                                                                               : "per_phase"}};
  return j.dump(2, ' ', false, ordered_json::error_handler_t::replace) + "\n";
}

}  // namespace spindle
