// spindle-paper: the published steps per MetaLevel (see spindle_paper.h).
#include "planner/schedule/spindle_paper.h"

#include <string>
#include <vector>

#include "planner/schedule/allocator.h"
#include "planner/schedule/bounds.h"
#include "planner/schedule/wavefront.h"
#include "traces/text_table.h"

namespace spindle {

Plan plan_spindle_paper(const Scenario& s, const MetaGraph& mg, const CostModel& cost) {
  Plan p;
  const int gpus = s.cluster.gpus();
  double now = 0;
  std::string ratios;
  for (int level = 1; level <= mg.levels; ++level) {
    const std::vector<LevelItem> items = level_items(mg, cost, level);
    const LevelAllocation a = allocate_level(items, gpus);
    const double start = now;
    now = schedule_level(items, a.pieces, gpus, start, p.waves, AlignRule::kShortestPiece);
    ratios += (level > 1 ? ", " : "") + std::to_string(level) + ": " + fixed((now - start) / a.cstar_s, 3) + "x C*";
  }
  p.notes.push_back(
      "as published: MPSP allocation, bi-point discretisation and the greedy wavefront per MetaLevel, levels "
      "concatenated; level span over its C*: " + ratios);
  return p;
}

}  // namespace spindle
