// CSV and HDF5 result files (see result_files.h). HDF5's C API stays in this file.
#include "sim/result_files.h"

#include <hdf5.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>

#include "sim/sim_report.h"
#include "traces/errors.h"
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

// HDF5 ids closed on scope exit; every call is checked and named in the error.
class H5 {
 public:
  explicit H5(std::filesystem::path file) : file_(std::move(file)) {}
  template <typename T>
  T ok(T result, const char* what) const {
    if (result < 0) throw IoError(file_.string() + ": HDF5 call failed: " + what);
    return result;
  }
  hid_t keep(hid_t id, herr_t (*closer)(hid_t), const char* what) {
    ok(id, what);
    owned_.push_back({id, closer});
    return id;
  }
  ~H5() {
    for (auto it = owned_.rbegin(); it != owned_.rend(); ++it) it->second(it->first);
  }

 private:
  std::filesystem::path file_;
  std::vector<std::pair<hid_t, herr_t (*)(hid_t)>> owned_;
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
  std::filesystem::create_directories(path.parent_path().empty() ? "." : path.parent_path());
  const std::filesystem::path tmp = path.string() + ".tmp-" + std::to_string(::getpid());
  try {
    H5 h(path);
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    const hid_t file = h.keep(H5Fcreate(tmp.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose, "create");
    const hid_t gcpl = h.keep(H5Pcreate(H5P_GROUP_CREATE), H5Pclose, "group properties");
    const hid_t dcpl = h.keep(H5Pcreate(H5P_DATASET_CREATE), H5Pclose, "dataset properties");
    h.ok(H5Pset_obj_track_times(gcpl, 0), "no group times");
    h.ok(H5Pset_obj_track_times(dcpl, 0), "no dataset times");
    auto string_attr = [&](hid_t obj, const char* name, const std::string& value) {
      const hid_t type = h.keep(H5Tcopy(H5T_C_S1), H5Tclose, "string type");
      h.ok(H5Tset_size(type, value.size() + 1), "string size");
      const hid_t space = h.keep(H5Screate(H5S_SCALAR), H5Sclose, "scalar space");
      const hid_t attr = h.keep(H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT), H5Aclose, name);
      h.ok(H5Awrite(attr, type, value.c_str()), name);
    };
    auto table = [&](hid_t where, const char* name, hid_t type, size_t rows, const void* data) {
      const hsize_t dims[1] = {rows};
      const hid_t space = h.keep(H5Screate_simple(1, dims, nullptr), H5Sclose, "table space");
      const hid_t ds = h.keep(H5Dcreate2(where, name, type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT), H5Dclose, name);
      if (rows > 0) h.ok(H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), name);
    };
    const hid_t root = h.keep(H5Gopen2(file, "/", H5P_DEFAULT), H5Gclose, "root");
    string_attr(root, "scenario", scenario_text);
    string_attr(root, "busy_kinds", "0=fwd,1=bwd,2=transfer,3=sync");
    string_attr(root, "layout_version", "1");

    const hid_t name_type = h.keep(H5Tcopy(H5T_C_S1), H5Tclose, "name type");
    h.ok(H5Tset_size(name_type, sizeof(Row::system)), "name size");
    const hid_t row_type = h.keep(H5Tcreate(H5T_COMPOUND, sizeof(Row)), H5Tclose, "summary type");
    h.ok(H5Tinsert(row_type, "system", offsetof(Row, system), name_type), "system");
    const std::pair<const char*, size_t> doubles[] = {
        {"planned_s", offsetof(Row, planned_s)},     {"simulated_s", offsetof(Row, simulated_s)},
        {"compute_s", offsetof(Row, compute_s)},     {"forward_s", offsetof(Row, forward_s)},
        {"backward_s", offsetof(Row, backward_s)},   {"transfer_s", offsetof(Row, transfer_s)},
        {"sync_s", offsetof(Row, sync_s)},           {"idle_s", offsetof(Row, idle_s)},
        {"gpu_utilization", offsetof(Row, gpu_utilization)}, {"peak_mem_GiB", offsetof(Row, peak_mem_GiB)}};
    for (auto [n, off] : doubles) h.ok(H5Tinsert(row_type, n, off, H5T_IEEE_F64LE), n);
    h.ok(H5Tinsert(row_type, "flows", offsetof(Row, flows), H5T_STD_I64LE), "flows");
    h.ok(H5Tinsert(row_type, "events", offsetof(Row, events), H5T_STD_I64LE), "events");
    std::vector<Row> rows;
    for (size_t i = 0; i < systems.size(); ++i) rows.push_back(row_of(systems[i], names[i], results[i]));
    table(file, "summary", row_type, rows.size(), rows.data());

    const hid_t busy_type = h.keep(H5Tcreate(H5T_COMPOUND, sizeof(BusyRow)), H5Tclose, "busy type");
    h.ok(H5Tinsert(busy_type, "device", offsetof(BusyRow, device), H5T_STD_I32LE), "device");
    h.ok(H5Tinsert(busy_type, "instr", offsetof(BusyRow, instr), H5T_STD_I32LE), "instr");
    h.ok(H5Tinsert(busy_type, "kind", offsetof(BusyRow, kind), H5T_STD_I32LE), "kind");
    h.ok(H5Tinsert(busy_type, "start_s", offsetof(BusyRow, start_s), H5T_IEEE_F64LE), "start_s");
    h.ok(H5Tinsert(busy_type, "end_s", offsetof(BusyRow, end_s), H5T_IEEE_F64LE), "end_s");
    const hid_t busy = h.keep(H5Gcreate2(file, "busy", H5P_DEFAULT, gcpl, H5P_DEFAULT), H5Gclose, "busy group");
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
      table(busy, names[i].c_str(), busy_type, b.size(), b.data());
    }
    h.ok(H5Fflush(file, H5F_SCOPE_GLOBAL), "flush");
  } catch (...) {
    std::error_code ignored;
    std::filesystem::remove(tmp, ignored);
    throw;
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) throw IoError(path.string() + ": cannot rename the temporary file: " + ec.message());
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
