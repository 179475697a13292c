// spindle-paper and the baselines (see systems.h).
#include "planner/systems.h"

#include <algorithm>
#include <limits>
#include <map>
#include <set>

#include "planner/no_barrier.h"
#include "planner/placement.h"
#include "planner/wave_moves.h"
#include "planner/wave_packing.h"
#include "planner/wavefront.h"
#include "traces/errors.h"
#include "traces/text_table.h"

namespace spindle {
namespace {

// Re-planned level schedules are also tried with this many seeded perturbations (+-15%) of
// their slack and widening priorities; the seeds are fixed, so plans stay deterministic.
constexpr std::uint64_t kReplanSeeds = 32;

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

// Appends `waves` (of a level scheduled from time 0) to `p` from `offset`.
double append_level(Plan& p, const std::vector<Wave>& waves, double offset) {
  double end = offset;
  for (Wave w : waves) {
    w.start_s += offset;
    w.end_s += offset;
    for (Slice& sl : w.slices) {
      sl.start_s += offset;
      sl.end_s += offset;
    }
    end = std::max(end, w.end_s);
    p.waves.push_back(std::move(w));
  }
  return end;
}

// spindle-paper's level plans: `packed` is spindle-paper; `polished` and `scheduled` are the
// fastest heuristic schedule of each level after and before local moves (spindle compacts
// each of them too: a faster level plan does not always compact to a faster one).
struct LevelPlans {
  Plan packed, polished, scheduled;
};

LevelPlans plan_levels(const Scenario& s, const MetaGraph& mg, const CostModel& cost) {
  LevelPlans out;
  Plan& p = out.packed;
  const int gpus = s.cluster.gpus();
  double now = 0, now_polished = 0, now_scheduled = 0;
  std::string chosen, packing;
  for (int level = 1; level <= mg.levels; ++level) {
    std::vector<LevelItem> items = level_items(mg, cost, level);
    LevelAllocation a = allocate_level(items, gpus);
    // Candidates, each scheduled from time 0: the published rule, best-span align, and
    // re-planning before every wave (with the slack-capped efficient span, or with
    // look-ahead; from bi-point or water-filled counts), the last also with seeded
    // perturbations of its priorities.
    struct Candidate {
      std::string name;
      std::vector<Wave> waves;
      double end = 0;
    };
    std::vector<Candidate> cands;
    for (AlignRule rule : {AlignRule::kShortestPiece, AlignRule::kBestSpan}) {
      Candidate c{rule == AlignRule::kShortestPiece ? "published" : "best-span", {}, 0};
      c.end = schedule_level(items, a.pieces, gpus, 0.0, c.waves, rule);
      cands.push_back(std::move(c));
    }
    for (std::uint64_t seed = 0; seed <= kReplanSeeds; ++seed)
      for (int k = 0; k < 4; ++k) {
        const bool look_ahead = k % 2 == 1, water_fill = k >= 2;
        std::string name = std::string(water_fill ? "water-filled" : "re-planned") +
                           (look_ahead ? " look-ahead" : "");
        if (seed > 0) name += " (perturbation " + std::to_string(seed) + ")";
        Candidate c{name, {}, 0};
        c.end = schedule_level_replanned(items, gpus, 0.0, c.waves, look_ahead, water_fill, seed);
        cands.push_back(std::move(c));
      }
    const Candidate* first = &cands[0];
    for (const Candidate& c : cands)
      if (c.end < first->end * (1 - 1e-9)) first = &c;
    now_scheduled = append_level(out.scheduled, first->waves, now_scheduled);
    // Every candidate is polished by local moves; the fastest seed the integer program over
    // wave configurations, which keeps the fastest unless it finds a smaller summed span.
    for (Candidate& c : cands) c.end = polish_level_waves(items, gpus, 0.0, c.waves);
    std::vector<const Candidate*> ranked;
    for (const Candidate& c : cands) ranked.push_back(&c);
    std::stable_sort(ranked.begin(), ranked.end(),
                     [](const Candidate* x, const Candidate* y) { return x->end < y->end; });
    const Candidate* best = ranked.front();
    now_polished = append_level(out.polished, best->waves, now_polished);
    std::vector<const std::vector<Wave>*> schedules;
    for (const Candidate* c : ranked) schedules.push_back(&c->waves);
    Candidate packed{"wave packing", {}, 0};
    WavePackingReport rep;
    packed.end = pack_level_waves(items, gpus, 0.0, schedules, packed.waves, &rep);
    const std::string polished_name = best->name + " polished";
    if (packed.end < best->end * (1 - 1e-9)) best = &packed;
    now = append_level(p, best->waves, now);
    chosen += (level > 1 ? ", " : "") + std::to_string(level) + ": " +
              (best == &packed ? best->name : polished_name) + " " +
              fixed(best->end / a.cstar_s, 3) + "x C*";
    if (!rep.ran)
      packing +=
          (packing.empty() ? "" : ", ") + std::to_string(level) + ": not run, " + rep.why_not;
    else
      packing += (packing.empty() ? "" : ", ") + std::to_string(level) + ": " +
                 (rep.lp_converged ? "LP bound " + fixed(rep.lp_bound_s / a.cstar_s, 3) + "x C*"
                                   : std::string("LP not converged")) +
                 ", " + std::to_string(rep.columns) + " columns, " + std::to_string(rep.nodes) +
                 " nodes";
  }
  p.notes.push_back("MPSP allocation and wavefront scheduling per MetaLevel, levels concatenated");
  p.notes.push_back(
      "wave schedule taken per MetaLevel (fastest of the published wavefront, best-span align, "
      "and re-planning before every wave, from bi-point or water-filled counts, with or without "
      "look-ahead, each also with " +
      std::to_string(kReplanSeeds) +
      " seeded perturbations of its priorities, every one polished by local moves; the fastest "
      "few then start an integer program over wave configurations): " +
      chosen);
  p.notes.push_back(
      "wave packing (configuration LP by column generation, a rounding dive, branch and bound "
      "from the fastest schedules and the dive's cover, re-planning of two or three waves at a "
      "time; the LP bound holds for every barrier-wave schedule of the level): " +
      packing);
  return out;
}

Plan plan_spindle_paper(const Scenario& s, const MetaGraph& mg, const CostModel& cost) {
  return plan_levels(s, mg, cost).packed;
}

Plan plan_spindle(const Scenario& s, const MetaGraph& mg, const CostModel& cost) {
  // Candidates, each with its barriers removed by compaction: spindle-paper's plan, and the
  // whole-graph wavefront with either span choice. The fastest is taken and named.
  const int gpus = s.cluster.gpus();
  struct Candidate {
    const char* name;
    Plan plan;
  };
  std::vector<Candidate> cands;
  LevelPlans levels = plan_levels(s, mg, cost);
  cands.push_back({"spindle-paper's level plan", std::move(levels.packed)});
  cands.push_back({"its fastest heuristic level plan, polished", std::move(levels.polished)});
  cands.push_back({"its fastest heuristic level plan, as scheduled", std::move(levels.scheduled)});
  for (SpanChoice c : {SpanChoice::kFirstCompletion, SpanChoice::kBestSpan}) {
    Plan p;
    schedule_without_barriers(mg, cost, gpus, c, p.waves);
    cands.push_back({c == SpanChoice::kFirstCompletion ? "whole-graph waves (first completion)"
                                                       : "whole-graph waves (best span)",
                     std::move(p)});
  }
  Candidate* best = nullptr;
  std::string tried;
  for (Candidate& c : cands) {
    c.plan.gpus = gpus;
    c.plan.finish();
    const double before = c.plan.planned_s;
    compact_plan(c.plan, mg, cost);
    tried += (tried.empty() ? "" : "; ") + std::string(c.name) + " " + fixed(before * 1e3, 3) + " -> " +
             fixed(c.plan.planned_s * 1e3, 3) + " ms";
    if (best == nullptr || c.plan.planned_s < best->plan.planned_s * (1 - 1e-9)) best = &c;
  }
  Plan p = std::move(best->plan);
  p.notes.clear();
  p.notes.push_back("no level barriers: slices start as soon as their MetaOp's predecessors are done and devices are "
                    "free (compaction); candidates, before -> after: " + tried + "; taken: " + best->name);
  return p;
}

}  // namespace

const std::vector<std::string>& system_names() {
  static const std::vector<std::string> names = {"spindle", "spindle-paper", "sequential", "uniform", "optimus"};
  return names;
}

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

void check_system_name(const std::string& name) {
  const std::vector<std::string>& names = system_names();
  if (std::find(names.begin(), names.end(), name) != names.end()) return;
  std::string all;
  for (const std::string& n : names) all += (all.empty() ? "" : ", ") + n;
  throw InputError("--system " + name + ": unknown system; allowed: " + all);
}

Plan plan_system(const std::string& name, const Scenario& s, const MetaGraph& mg, const CostModel& cost) {
  Plan p;
  if (name == "spindle") p = plan_spindle(s, mg, cost);
  else if (name == "spindle-paper") p = plan_spindle_paper(s, mg, cost);
  else if (name == "sequential") p = plan_sequential(s, mg, cost);
  else if (name == "uniform") p = plan_uniform(s, mg, cost);
  else if (name == "optimus") p = plan_optimus(s, mg, cost);
  else check_system_name(name);
  p.system = name;
  p.gpus = s.cluster.gpus();
  set_bounds(p, mg, cost);
  p.finish();
  if (name == "spindle-paper" || name == "spindle") {
    // The planner may take another schedule as a candidate when it is better, and says so:
    // spindle keeps spindle-paper's level-barrier schedule where that is faster.
    std::vector<const char*> others = {"sequential", "uniform", "optimus"};
    for (const char* other : others) {
      Plan b = plan_system(other, s, mg, cost);
      if (b.planned_s < p.planned_s * (1 - 1e-9)) {
        const double own = p.planned_s;
        b.notes.push_back("spindle-paper took " + std::string(other) + "'s schedule as a candidate: " + fixed(b.planned_s * 1e3, 3) +
                          " ms against its own wavefront plan's " + fixed(own * 1e3, 3) + " ms");
        b.system = name;
        b.schedule_from = other;
        p = std::move(b);
      }
    }
  }
  return p;
}

Plan placed_plan(const std::string& name, const Scenario& s, const Graph& g, const MetaGraph& mg, const CostModel& cost) {
  Plan p = plan_system(name, s, mg, cost);
  place(p, s, g, mg, PlacementPolicy::kSpindle);
  return p;
}

Plan placed_plan_file(const std::string& file, const Scenario& s, const Graph& g, const MetaGraph& mg,
                      const CostModel& cost) {
  Plan p = read_plan(file, s, mg, cost);
  set_bounds(p, mg, cost);
  p.peak_slice_GiB = peak_slice_GiB(p, s, g, mg);
  if (!is_placed(p)) place(p, s, g, mg, PlacementPolicy::kSpindle);
  return p;
}

}  // namespace spindle
