// Coordinate descent over components' TP degrees on C*valid (see tp_layout.h).
#include "planner/schedule/tp_layout.h"

#include <algorithm>
#include <vector>

#include "planner/schedule/bounds.h"
#include "traces/errors.h"

namespace spindle {

std::map<std::string, int> choose_tp_layout(const Scenario& s, const MetaGraph& mg, CostModel& cost) {
  std::map<std::string, int> layout = cost.layout();
  std::vector<std::string> free;
  for (auto& [c, tp] : layout) {
    const std::vector<int> opts = cost.tp_options(c);
    if (auto fixed = s.planner.tp.find(c); fixed != s.planner.tp.end()) {
      if (std::find(opts.begin(), opts.end(), fixed->second) == opts.end()) {
        std::string allowed;
        for (int t : opts) allowed += (allowed.empty() ? "" : ", ") + std::to_string(t);
        throw InputError(s.file + ": planner.tp." + c + " = " + std::to_string(fixed->second) +
                         ": the component does not fit memory or split (heads, ffn) at that degree; allowed: " + allowed);
      }
      tp = fixed->second;
    } else if (opts.size() > 1) {
      free.push_back(c);
    }
  }
  for (const auto& [c, tp] : s.planner.tp)
    if (!layout.count(c)) throw InputError(s.file + ": planner.tp." + c + ": the component is in no task; allowed: components the tasks use");
  cost.set_layout(layout);
  const int gpus = s.cluster.gpus();
  double best = cstar_valid_s(mg, cost, gpus);
  for (int pass = 0; pass < 3; ++pass) {
    bool changed = false;
    for (const std::string& c : free)
      for (int tp : cost.tp_options(c)) {
        if (tp == layout[c]) continue;
        std::map<std::string, int> trial = layout;
        trial[c] = tp;
        cost.set_layout(trial);
        const double t = cstar_valid_s(mg, cost, gpus);
        if (t < best * (1 - 1e-9)) {
          best = t;
          layout = trial;
          changed = true;
        }
      }
    cost.set_layout(layout);
    if (!changed) break;
  }
  return layout;
}

}  // namespace spindle
