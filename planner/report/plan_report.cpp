// Text tables of plans (see plan_report.h).
#include "planner/report/plan_report.h"

#include "planner/graph/metaop_json.h"
#include <algorithm>

#include "traces/text_table.h"

namespace spindle {

std::string plans_text(const Scenario& s, const MetaGraph& mg, const std::vector<PlannedSystem>& systems, double gpu_GiB) {
  if (systems.empty()) return "";
  const Plan& first = systems.front().plan;
  std::string out = "Plans  " + std::to_string(first.gpus) + " GPUs; C* = " + fixed(first.cstar_s * 1e3, 3) +
                    " ms (sum of MetaLevel optima), C*valid = " + fixed(first.cstar_valid_s * 1e3, 3) +
                    " ms (valid device counts only), lower bound = " + fixed(first.lower_bound_s * 1e3, 3) +
                    " ms; planned times leave out communication\n";
  using A = TextTable::Align;
  TextTable t;
  for (auto [h, a] : std::vector<std::pair<const char*, A>>{{"system", A::kLeft},
                                                             {"planned ms", A::kRight},
                                                             {"estimated ms", A::kRight},
                                                             {"x C*", A::kRight},
                                                             {"x C*valid", A::kRight},
                                                             {"x lower bound", A::kRight},
                                                             {"speedup vs sequential", A::kRight},
                                                             {"waves", A::kRight},
                                                             {"peak slice GiB", A::kRight},
                                                             {"moved GB node/net", A::kRight},
                                                             {"sync GB node/net", A::kRight},
                                                             {"peak GiB/GPU", A::kRight},
                                                             {"planning ms", A::kRight}})
    t.add_column(h, a);
  double sequential = 0;
  for (const PlannedSystem& ps : systems)
    if (ps.plan.system == "sequential") sequential = ps.plan.planned_s;
  bool over = false;
  for (const PlannedSystem& ps : systems) {
    const Plan& p = ps.plan;
    std::string name = p.system;
    if (!p.schedule_from.empty()) name += " (" + p.schedule_from + "'s schedule)";
    if (!ps.from_file.empty()) name += " (from " + ps.from_file + ")";
    if (!ps.placement_label.empty()) name += " (" + ps.placement_label + ")";
    const bool too_big = p.peak_slice_GiB > gpu_GiB;
    over = over || too_big;
    t.add_row({name, fixed(p.planned_s * 1e3, 3), fixed(ps.estimated_s * 1e3, 3), fixed(p.planned_s / p.cstar_s, 3),
               fixed(p.planned_s / p.cstar_valid_s, 3),
               fixed(p.planned_s / p.lower_bound_s, 3), sequential > 0 ? fixed(sequential / p.planned_s, 2) + "x" : "-",
               std::to_string(p.waves.size()), fixed(p.peak_slice_GiB, 1) + (too_big ? " !" : ""),
               fixed(ps.placement.transfer_intra_bytes / 1e9, 2) + " / " + fixed(ps.placement.transfer_inter_bytes / 1e9, 2),
               fixed(ps.placement.sync_intra_bytes / 1e9, 2) + " / " + fixed(ps.placement.sync_inter_bytes / 1e9, 2),
               fixed(ps.placement.peak_mem_GiB, 1) + (ps.placement.over_memory_devices > 0 ? " !" : ""),
               ps.from_file.empty() && ps.planning_s >= 0 ? fixed(ps.planning_s * 1e3, 2) : "-"});
  }
  out += t.render();
  out += "  planned: compute alone, as scheduled; estimated: the planner's estimate of the iteration with "
         "transfers and weight sync over the placed devices' links (what spindle optimizes)\n";
  out += "  moved: activations and their gradients between slices (and contrastive gathers), inside a node / across "
         "nodes; sync: weight-gradient all-reduce over each layer's devices; peak: weights, gradients, optimizer "
         "state and stored activations of the fullest GPU\n";
  if (over)
    out += "  ! a slice needs more memory than a GPU's " + fixed(gpu_GiB, 1) +
           " GiB: such a plan cannot run (more GPUs, planner.zero1 = true, or smaller batches)\n";
  for (const PlannedSystem& ps : systems) {
    const std::string who = ps.plan.system + (ps.placement_label.empty() ? "" : " (" + ps.placement_label + ")");
    if (ps.placement.over_memory_devices > 0)
      out += "  ! " + who + ": " + std::to_string(ps.placement.over_memory_devices) + " GPUs over their " +
             fixed(gpu_GiB, 1) + " GiB" +
             (ps.placement_label.empty() ? ": placement found no way to fit this plan (more GPUs, planner.zero1 = "
                                           "true, or smaller batches)"
                                         : "") +
             "\n";
    if (ps.placement.in_order_kept)
      out += "  " + who + ": device ids in order moved fewer bytes across nodes (activations and weight sync) than the greedy placement; kept\n";
    else if (ps.placement.backtracks > 0)
      out += "  " + who + ": placement backtracked " + std::to_string(ps.placement.backtracks) +
             " times to keep every GPU within memory\n";
    if (ps.placement.topology_repairs > 0 && !ps.placement.in_order_kept)
      out += "  " + who + ": " + std::to_string(ps.placement.topology_repairs) +
             " re-placement(s) kept slices that fit in one node inside one node (fewer bytes across nodes)\n";
  }
  for (const PlannedSystem& ps : systems)
    for (const std::string& note : ps.plan.notes) out += "  " + ps.plan.system + ": " + note + "\n";
  for (const PlannedSystem& ps : systems)  // where every slice of every system runs
    if (ps.from_file.empty() && ps.placement_label.empty()) out += "\n" + waves_text(s, mg, ps.plan);
  return out;
}

namespace {

// "0-7,12,16-19": sorted device ids as ranges.
std::string device_ranges(std::vector<int> d) {
  std::sort(d.begin(), d.end());
  std::string out;
  for (size_t i = 0; i < d.size();) {
    size_t j = i;
    while (j + 1 < d.size() && d[j + 1] == d[j] + 1) ++j;
    out += (out.empty() ? "" : ",") + std::to_string(d[i]) + (j > i ? "-" + std::to_string(d[j]) : "");
    i = j + 1;
  }
  return out;
}

}  // namespace

std::string waves_text(const Scenario& s, const MetaGraph& mg, const Plan& plan) {
  using A = TextTable::Align;
  TextTable t;
  for (auto [h, a] : std::vector<std::pair<const char*, A>>{{"wave", A::kRight},
                                                             {"start ms", A::kRight},
                                                             {"span ms", A::kRight},
                                                             {"devices", A::kRight},
                                                             {"slices: MetaOp component/task [layers) x devices[/tp degree] @GPUs", A::kLeft}})
    t.add_column(h, a);
  for (size_t w = 0; w < plan.waves.size(); ++w) {
    const Wave& wave = plan.waves[w];
    int devices = 0;
    std::string slices;
    for (const Slice& sl : wave.slices) {
      const MetaOp& m = mg.metaops[static_cast<size_t>(sl.metaop)];
      devices += sl.n;
      slices += (slices.empty() ? "" : "  ") + std::to_string(m.id) + " " +
                component_name(s, m) + "/" +
                s.tasks[static_cast<size_t>(m.tasks.front())].name + " [" + std::to_string(sl.first_layer) + "," +
                std::to_string(sl.last_layer) + ")x" + std::to_string(sl.n) + (sl.tp > 1 ? "/tp" + std::to_string(sl.tp) : "") +
                (sl.devices.empty() ? "" : "@" + device_ranges(sl.devices));
    }
    t.add_row({std::to_string(w), fixed(wave.start_s * 1e3, 3), fixed((wave.end_s - wave.start_s) * 1e3, 3),
               std::to_string(devices), slices});
  }
  return plan.system + " waves\n" + t.render();
}

}  // namespace spindle
