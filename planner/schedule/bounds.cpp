// C*, C*valid and the lower bound (see bounds.h).
#include "planner/schedule/bounds.h"

#include <algorithm>
#include <limits>

namespace spindle {

std::vector<LevelItem> level_items(const MetaGraph& mg, const CostModel& cost, int level) {
  std::vector<LevelItem> items;
  for (const MetaOp& m : mg.metaops) {
    if (m.level != level) continue;
    LevelItem it;
    it.metaop = m.id;
    it.L = m.L;
    it.curve = &cost.metaop(m.id).curve;
    for (const CurvePoint& pt : it.curve->points()) it.valid_n.push_back(pt.n);
    items.push_back(it);
  }
  return items;
}

double cstar_s(const MetaGraph& mg, const CostModel& cost, int gpus) {
  double sum = 0;
  for (int level = 1; level <= mg.levels; ++level) sum += allocate_level(level_items(mg, cost, level), gpus).cstar_s;
  return sum;
}

double cstar_valid_s(const MetaGraph& mg, const CostModel& cost, int gpus) {
  double sum = 0;
  for (int level = 1; level <= mg.levels; ++level) sum += valid_count_cstar(level_items(mg, cost, level), gpus);
  return sum;
}

void set_bounds(Plan& p, const MetaGraph& mg, const CostModel& cost) {
  p.cstar_s = cstar_s(mg, cost, p.gpus);
  p.cstar_valid_s = cstar_valid_s(mg, cost, p.gpus);
  p.lower_bound_s = lower_bound_s(mg, cost, p.gpus);
}

double lower_bound_s(const MetaGraph& mg, const CostModel& cost, int gpus) {
  std::vector<double> finish(mg.metaops.size(), 0);  // MetaOps are numbered in level order
  double critical = 0, area = 0;
  for (const MetaOp& m : mg.metaops) {
    const ScalingCurve& c = cost.metaop(m.id).curve;
    double start = 0;
    for (int p : m.preds) start = std::max(start, finish[static_cast<size_t>(p)]);
    finish[static_cast<size_t>(m.id)] = start + m.L * c.time_s(c.max_n());
    critical = std::max(critical, finish[static_cast<size_t>(m.id)]);
    double least = std::numeric_limits<double>::infinity();
    for (const CurvePoint& pt : c.points()) least = std::min(least, pt.n * c.time_s(pt.n));
    area += m.L * least;
  }
  return std::max(critical, area / gpus);
}

}  // namespace spindle
