// CSV and HDF5 result files (see result_files.h); HDF5 through traces/hdf5_file.h.
#include "sim/report/result_files.h"

#include <cstddef>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>

#include "sim/report/sim_report.h"
#include "traces/errors.h"
#include "traces/hdf5_file.h"
#include "traces/text_table.h"

namespace spindle {
namespace {

struct Row {  // one per system, also the HDF5 /summary compound
  char system[64];
  double planned_s, simulated_s, compute_s, forward_s, backward_s, transfer_s, sync_s, idle_s, gpu_utilization,
      peak_mem_GiB;
  std::int64_t flows, events;
};

Row row_of(const PlannedSystem& ps, const std::string& name, const ReplayResult& r) {
  const SimSummary m = summarize(r);
  Row row;
  std::memset(&row, 0, sizeof row);
  std::strncpy(row.system, name.c_str(), sizeof row.system - 1);
  row.planned_s = ps.plan.planned_s;
  row.simulated_s = m.simulated_s;
  row.compute_s = m.compute_s;
  row.forward_s = m.forward_s;
  row.backward_s = m.backward_s;
  row.transfer_s = m.transfer_s;
  row.sync_s = m.sync_s;
  row.idle_s = m.idle_s;
  row.gpu_utilization = m.utilization();
  row.peak_mem_GiB = ps.placement.peak_mem_GiB;
  row.flows = r.stats.flows;
  row.events = r.stats.events;
  return row;
}

struct BusyRow {  // /busy/<system>
  std::int32_t device, instr, kind;
  double start_s, end_s;
};

}  // namespace

std::string results_csv(const std::vector<PlannedSystem>& systems, const std::vector<std::string>& names,
                        const std::vector<ReplayResult>& results) {
  if (systems.size() != results.size() || names.size() != results.size())
    throw InternalError("results_csv: systems, names and results differ in count");
  std::string out =
      "system,planned_s,simulated_s,compute_s,forward_s,backward_s,transfer_s,sync_s,idle_s,gpu_utilization,"
      "peak_mem_GiB,flows,events\n";
  for (size_t i = 0; i < systems.size(); ++i) {
    const Row r = row_of(systems[i], names[i], results[i]);
    out += names[i];
    for (double x : {r.planned_s, r.simulated_s, r.compute_s, r.forward_s, r.backward_s, r.transfer_s, r.sync_s,
                     r.idle_s, r.gpu_utilization, r.peak_mem_GiB})
      out += "," + exact(x);
    out += "," + std::to_string(r.flows) + "," + std::to_string(r.events) + "\n";
  }
  return out;
}

void write_results_h5(const std::filesystem::path& path, const std::string& scenario_text,
                      const std::vector<PlannedSystem>& systems, const std::vector<std::string>& names,
                      const std::vector<ReplayResult>& results) {
  if (systems.size() != results.size() || names.size() != results.size())
    throw InternalError("write_results_h5: systems, names and results differ in count");
  using h5::Kind;
  h5::Layout summary{sizeof(Row), {{"system", offsetof(Row, system), Kind::kString, sizeof(Row::system)}}};
  const std::pair<const char*, size_t> doubles[] = {
      {"planned_s", offsetof(Row, planned_s)},     {"simulated_s", offsetof(Row, simulated_s)},
      {"compute_s", offsetof(Row, compute_s)},     {"forward_s", offsetof(Row, forward_s)},
      {"backward_s", offsetof(Row, backward_s)},   {"transfer_s", offsetof(Row, transfer_s)},
      {"sync_s", offsetof(Row, sync_s)},           {"idle_s", offsetof(Row, idle_s)},
      {"gpu_utilization", offsetof(Row, gpu_utilization)}, {"peak_mem_GiB", offsetof(Row, peak_mem_GiB)}};
  for (auto [n, off] : doubles) summary.fields.push_back({n, off, Kind::kF64});
  summary.fields.push_back({"flows", offsetof(Row, flows), Kind::kI64});
  summary.fields.push_back({"events", offsetof(Row, events), Kind::kI64});
  const h5::Layout busy{sizeof(BusyRow),
                        {{"device", offsetof(BusyRow, device), Kind::kI32},
                         {"instr", offsetof(BusyRow, instr), Kind::kI32},
                         {"kind", offsetof(BusyRow, kind), Kind::kI32},
                         {"start_s", offsetof(BusyRow, start_s), Kind::kF64},
                         {"end_s", offsetof(BusyRow, end_s), Kind::kF64}}};

  h5::Writer w(path);
  w.string_dataset("scenario", scenario_text);  // a dataset: scenarios of any size
  w.string_attr("/", "busy_kinds", "0=fwd,1=bwd,2=transfer,3=sync,4=tp");
  w.string_attr("/", "layout_version", "2");
  std::vector<Row> rows;
  for (size_t i = 0; i < systems.size(); ++i) rows.push_back(row_of(systems[i], names[i], results[i]));
  w.table("summary", summary, rows.data(), rows.size());
  w.group("busy");
  for (size_t i = 0; i < systems.size(); ++i) {
    std::vector<BusyRow> b(results[i].busy.size());
    std::memset(b.data(), 0, b.size() * sizeof(BusyRow));  // padding too: same inputs, same bytes
    for (size_t k = 0; k < b.size(); ++k) {
      const BusyInterval& x = results[i].busy[k];
      b[k].device = x.device;
      b[k].instr = x.instr;
      b[k].kind = static_cast<std::int32_t>(x.what);
      b[k].start_s = x.start_s;
      b[k].end_s = x.end_s;
    }
    w.table("busy/" + names[i], busy, b.data(), b.size());
  }
  w.commit();
}

std::string timing_json(const std::vector<PlannedSystem>& systems, double simulation_s) {
  nlohmann::ordered_json planning = nlohmann::ordered_json::object();
  for (const PlannedSystem& ps : systems)
    if (ps.from_file.empty() && ps.placement_label.empty()) planning[ps.plan.system] = ps.planning_s;
  nlohmann::ordered_json j = {{"planning_s", planning}};
  if (simulation_s >= 0) j["simulation_s"] = simulation_s;
  return j.dump(2) + "\n";
}

}  // namespace spindle
