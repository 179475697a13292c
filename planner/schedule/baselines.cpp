// sequential, uniform and optimus (see baselines.h).
#include "planner/schedule/baselines.h"

#include <algorithm>
#include <limits>
#include <set>
#include <string>

namespace spindle {
namespace {

// The fewest devices reaching the MetaOp's best time: "as many of the GPUs as help it",
// within `limit` devices.
int best_n(const MetaOp& m, const CostModel& cost, int limit) {
  const ScalingCurve& c = cost.metaop(m.id).curve;
  int best = 1;
  double best_t = c.time_s(1);
  for (const CurvePoint& p : c.points()) {
    if (p.n > limit) break;
    const double t = c.time_s(p.n);
    if (t < best_t * (1 - 1e-9)) {
      best = p.n;
      best_t = t;
    }
  }
  return best;
}

// MetaOps of each task in dependency order (level, then id).
std::vector<std::vector<int>> task_metaops(const Scenario& s, const MetaGraph& mg) {
  std::vector<std::vector<int>> out(s.tasks.size());
  for (const MetaOp& m : mg.metaops) out[static_cast<size_t>(m.tasks.front())].push_back(m.id);
  for (auto& v : out)
    std::stable_sort(v.begin(), v.end(), [&](int a, int b) {
      return mg.metaops[static_cast<size_t>(a)].level < mg.metaops[static_cast<size_t>(b)].level;
    });
  return out;
}

// Runs each group's tasks one after another, each MetaOp whole on best_n(group size)
// devices; groups run side by side. Wave k holds the k-th slice of every group (groups have
// no common barrier, so waves may overlap in time; slices carry their own times).
void run_groups(const std::vector<std::vector<int>>& group_tasks, const std::vector<int>& group_size,
                const std::vector<std::vector<int>>& metaops_of_task, const MetaGraph& mg, const CostModel& cost,
                Plan& plan) {
  std::vector<std::vector<Slice>> per_group(group_tasks.size());
  for (size_t g = 0; g < group_tasks.size(); ++g) {
    double now = 0;
    for (int t : group_tasks[g])
      for (int id : metaops_of_task[static_cast<size_t>(t)]) {
        const MetaOp& m = mg.metaops[static_cast<size_t>(id)];
        Slice sl;
        sl.metaop = id;
        sl.first_layer = 0;
        sl.last_layer = m.L;
        sl.n = best_n(m, cost, group_size[g]);
        sl.start_s = now;
        sl.end_s = now + m.L * cost.metaop(id).curve.time_s(sl.n);
        now = sl.end_s;
        per_group[g].push_back(sl);
      }
  }
  for (size_t k = 0;; ++k) {
    Wave w;
    w.start_s = std::numeric_limits<double>::infinity();
    for (const auto& slices : per_group)
      if (k < slices.size()) {
        w.slices.push_back(slices[k]);
        w.start_s = std::min(w.start_s, slices[k].start_s);
        w.end_s = std::max(w.end_s, slices[k].end_s);
      }
    if (w.slices.empty()) break;
    plan.waves.push_back(std::move(w));
  }
}

// One group per task when tasks <= GPUs; otherwise `gpus` groups of one GPU.
std::vector<int> equal_groups(int gpus, int groups) {
  std::vector<int> size(static_cast<size_t>(groups), gpus / groups);
  for (int i = 0; i < gpus % groups; ++i) ++size[static_cast<size_t>(i)];
  return size;
}

}  // namespace

Plan plan_sequential(const Scenario& s, const MetaGraph& mg, const CostModel& cost) {
  Plan p;
  const int gpus = s.cluster.gpus();
  std::vector<std::vector<int>> all_tasks(1);
  for (size_t t = 0; t < s.tasks.size(); ++t) all_tasks[0].push_back(static_cast<int>(t));
  run_groups(all_tasks, {gpus}, task_metaops(s, mg), mg, cost, p);
  p.notes.push_back("tasks one after another, each MetaOp data-parallel on the fewest GPUs that reach its best time");
  return p;
}

Plan plan_uniform(const Scenario& s, const MetaGraph& mg, const CostModel& cost) {
  Plan p;
  const int gpus = s.cluster.gpus(), k = static_cast<int>(s.tasks.size());
  const int groups = std::min(k, gpus);
  std::vector<std::vector<int>> group_tasks(static_cast<size_t>(groups));
  for (int t = 0; t < k; ++t) group_tasks[static_cast<size_t>(t % groups)].push_back(t);
  run_groups(group_tasks, equal_groups(gpus, groups), task_metaops(s, mg), mg, cost, p);
  if (k > gpus)
    p.notes.push_back(std::to_string(k) + " tasks on " + std::to_string(gpus) +
                      " GPUs: tasks dealt round-robin onto one GPU each; tasks sharing a GPU run one after another");
  else
    p.notes.push_back(std::to_string(gpus) + " GPUs split into " + std::to_string(k) + " equal groups" +
                      (gpus % k ? " (the first " + std::to_string(gpus % k) + " one larger)" : std::string()) + ", one task each");
  return p;
}

Plan plan_optimus(const Scenario& s, const MetaGraph& mg, const CostModel& cost) {
  Plan p;
  const int gpus = s.cluster.gpus(), k = static_cast<int>(s.tasks.size());
  auto metas = task_metaops(s, mg);
  auto task_time = [&](int t, int g) {
    double sum = 0;
    for (int id : metas[static_cast<size_t>(t)]) {
      const MetaOp& m = mg.metaops[static_cast<size_t>(id)];
      sum += m.L * cost.metaop(id).curve.time_s(best_n(m, cost, g));
    }
    return sum;
  };
  if (k > gpus) {
    // Longest task first onto the least-loaded GPU.
    std::vector<int> order(static_cast<size_t>(k));
    for (int t = 0; t < k; ++t) order[static_cast<size_t>(t)] = t;
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return task_time(a, 1) > task_time(b, 1); });
    std::vector<std::vector<int>> group_tasks(static_cast<size_t>(gpus));
    std::vector<double> load(static_cast<size_t>(gpus), 0);
    for (int t : order) {
      size_t g = static_cast<size_t>(std::min_element(load.begin(), load.end()) - load.begin());
      group_tasks[g].push_back(t);
      load[g] += task_time(t, 1);
    }
    run_groups(group_tasks, std::vector<int>(static_cast<size_t>(gpus), 1), metas, mg, cost, p);
    p.notes.push_back(std::to_string(k) + " tasks on " + std::to_string(gpus) +
                      " GPUs: one GPU per group, longest task first onto the least-loaded GPU");
    return p;
  }
  // Marginal gain: a task's next useful group size is the smallest larger one that makes it
  // faster; the task with the largest time drop per extra GPU gets them.
  // A task's time changes only at the valid counts of its MetaOps.
  std::vector<std::vector<int>> counts(static_cast<size_t>(k));
  for (int t = 0; t < k; ++t) {
    std::set<int> c;
    for (int id : metas[static_cast<size_t>(t)])
      for (const CurvePoint& pt : cost.metaop(id).curve.points()) c.insert(pt.n);
    counts[static_cast<size_t>(t)].assign(c.begin(), c.end());
  }
  std::vector<int> size(static_cast<size_t>(k), 1);
  for (int spare = gpus - k; spare > 0;) {
    int best = -1, best_step = 0;
    double best_gain = 0;
    for (int t = 0; t < k; ++t) {
      const int g = size[static_cast<size_t>(t)];
      const double now_s = task_time(t, g);
      for (int next : counts[static_cast<size_t>(t)]) {
        if (next <= g) continue;
        if (next - g > spare) break;
        const double drop = now_s - task_time(t, next);
        if (drop > now_s * 1e-9) {
          if (drop / (next - g) > best_gain) {
            best_gain = drop / (next - g);
            best = t;
            best_step = next - g;
          }
          break;
        }
      }
    }
    if (best < 0) break;  // no task gets faster: the rest stay idle
    size[static_cast<size_t>(best)] += best_step;
    spare -= best_step;
  }
  std::vector<std::vector<int>> group_tasks(static_cast<size_t>(k));
  std::string sizes;
  for (int t = 0; t < k; ++t) {
    group_tasks[static_cast<size_t>(t)].push_back(t);
    sizes += (t ? ", " : "") + s.tasks[static_cast<size_t>(t)].name + " " + std::to_string(size[static_cast<size_t>(t)]);
  }
  run_groups(group_tasks, size, metas, mg, cost, p);
  p.notes.push_back("GPUs per task by marginal gain: " + sizes);
  return p;
}

}  // namespace spindle
