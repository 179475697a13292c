// Measured collective curves and their interpolation (see collective_table.h).
#include "planner/cost/collective_table.h"

#include <algorithm>
#include <memory>

#include "planner/cost/profile_points.h"
#include "traces/errors.h"

namespace spindle {

std::optional<Collective> collective_from_name(const std::string& name) {
  for (Collective c : {Collective::kAllReduce, Collective::kAllGather, Collective::kReduceScatter,
                       Collective::kBroadcast, Collective::kSendRecv})
    if (name == collective_name(c)) return c;
  return std::nullopt;
}

void use_measured_collectives(Scenario& s, const Profile& profile) {
  check_profile_device(profile, s.cluster.gpu, s.file);
  if (!profile.collectives.empty()) s.cluster.measured_collectives = std::make_shared<const CollectiveTable>(profile);
}

CollectiveTable::CollectiveTable(const Profile& profile) : source_(profile.source) {
  for (const CollectiveMeasurement& m : profile.collectives) {
    const std::optional<Collective> c = collective_from_name(m.kind);
    if (!c) throw InputError(profile.source + ": /collectives kind '" + m.kind + "' is not a collective");
    std::vector<Curve>& curves = curves_[{*c, m.ranks, m.nodes, m.ranks_per_node}];
    auto it = std::find_if(curves.begin(), curves.end(), [&](const Curve& k) { return k.algorithm == m.algorithm; });
    if (it == curves.end()) it = curves.insert(curves.end(), Curve{m.algorithm, {}});
    it->points.emplace_back(static_cast<double>(m.bytes), m.time_ms * 1e-3);
  }
  for (auto& entry : curves_)
    for (Curve& k : entry.second) std::sort(k.points.begin(), k.points.end());
}

double CollectiveTable::Curve::at(double bytes) const {
  const auto& p = points;
  if (bytes <= p.front().first) return p.front().second;
  if (bytes >= p.back().first) return p.back().second * bytes / p.back().first;
  const auto hi = std::upper_bound(p.begin(), p.end(), bytes,
                                   [](double b, const std::pair<double, double>& q) { return b < q.first; });
  const auto lo = hi - 1;
  const double f = (bytes - lo->first) / (hi->first - lo->first);
  return lo->second + f * (hi->second - lo->second);
}

std::optional<MeasuredTime> CollectiveTable::lookup(Collective c, int ranks, int nodes, int ranks_per_node,
                                                    double bytes) const {
  const auto it = curves_.find({c, ranks, nodes, ranks_per_node});
  if (it == curves_.end()) return std::nullopt;
  const Curve* best = nullptr;
  double best_s = 0;
  for (const Curve& k : it->second) {
    const double t = k.at(bytes);
    const bool chosen_by_nccl = k.algorithm.empty();
    if (!best || chosen_by_nccl || (!best->algorithm.empty() && t < best_s)) best = &k, best_s = t;
    if (chosen_by_nccl) break;
  }
  return MeasuredTime{best_s, best->points.front().second, best->algorithm};
}

}  // namespace spindle
