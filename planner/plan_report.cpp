// Text tables of plans (see plan_report.h).
#include "planner/plan_report.h"

#include "traces/text_table.h"

namespace spindle {

std::string plans_text(const Scenario& s, const MetaGraph& mg, const std::vector<PlannedSystem>& systems) {
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
                                                             {"x C*", A::kRight},
                                                             {"x C*valid", A::kRight},
                                                             {"x lower bound", A::kRight},
                                                             {"speedup vs sequential", A::kRight},
                                                             {"waves", A::kRight},
                                                             {"planning ms", A::kRight}})
    t.add_column(h, a);
  double sequential = 0;
  for (const PlannedSystem& ps : systems)
    if (ps.plan.system == "sequential") sequential = ps.plan.planned_s;
  for (const PlannedSystem& ps : systems) {
    const Plan& p = ps.plan;
    t.add_row({p.system, fixed(p.planned_s * 1e3, 3), fixed(p.planned_s / p.cstar_s, 3),
               fixed(p.planned_s / p.cstar_valid_s, 3),
               fixed(p.planned_s / p.lower_bound_s, 3), sequential > 0 ? fixed(sequential / p.planned_s, 2) + "x" : "-",
               std::to_string(p.waves.size()), fixed(ps.planning_s * 1e3, 2)});
  }
  out += t.render();
  for (const PlannedSystem& ps : systems)
    for (const std::string& note : ps.plan.notes) out += "  " + ps.plan.system + ": " + note + "\n";
  for (const PlannedSystem& ps : systems)
    if (ps.plan.system == "spindle-paper") out += "\n" + waves_text(s, mg, ps.plan);
  return out;
}

std::string waves_text(const Scenario& s, const MetaGraph& mg, const Plan& plan) {
  using A = TextTable::Align;
  TextTable t;
  for (auto [h, a] : std::vector<std::pair<const char*, A>>{{"wave", A::kRight},
                                                             {"start ms", A::kRight},
                                                             {"span ms", A::kRight},
                                                             {"devices", A::kRight},
                                                             {"slices: MetaOp component/task [layers) x devices", A::kLeft}})
    t.add_column(h, a);
  for (size_t w = 0; w < plan.waves.size(); ++w) {
    const Wave& wave = plan.waves[w];
    int devices = 0;
    std::string slices;
    for (const Slice& sl : wave.slices) {
      const MetaOp& m = mg.metaops[static_cast<size_t>(sl.metaop)];
      devices += sl.n;
      slices += (slices.empty() ? "" : "  ") + std::to_string(m.id) + " " +
                (m.component < 0 ? "loss" : s.model.components[static_cast<size_t>(m.component)].name) + "/" +
                s.tasks[static_cast<size_t>(m.tasks.front())].name + " [" + std::to_string(sl.first_layer) + "," +
                std::to_string(sl.last_layer) + ")x" + std::to_string(sl.n);
    }
    t.add_row({std::to_string(w), fixed(wave.start_s * 1e3, 3), fixed((wave.end_s - wave.start_s) * 1e3, 3),
               std::to_string(devices), slices});
  }
  return plan.system + " waves\n" + t.render();
}

}  // namespace spindle
