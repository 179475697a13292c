// The chain scenario -> placed, lowered programs (see pipeline.h).
#include "planner/pipeline.h"

#include "planner/schedule/tp_layout.h"

#include <algorithm>
#include <memory>
#include <chrono>

#include "planner/cost/collective_table.h"
#include "planner/graph/graph_builder.h"
#include "planner/program/instr_time.h"
#include "planner/schedule/bounds.h"
#include "traces/errors.h"
#include "traces/text_table.h"

namespace spindle {

namespace {

// The scenario with the profile's measured collectives on its cluster.
Scenario with_profile(Scenario s, const Profile* profile) {
  if (profile != nullptr) use_measured_collectives(s, *profile);
  return s;
}

}  // namespace

ScenarioModel::ScenarioModel(Scenario scenario, const Profile* profile)
    : s(with_profile(std::move(scenario), profile)), g(build_graph(s)), mg(contract(g)), cost(s, g, mg, profile) {
  choose_tp_layout(s, mg, cost);
  if (!s.planner.zero1) {
    Scenario z = s;
    z.planner.zero1 = true;
    zero1_cost.emplace(z, g, mg, profile);
  }
}

namespace {

// Megatron-LM's --tensor-model-parallel-size t for the whole model: every component at the
// largest degree of its options up to t (its smallest where none is), degrees fixed by
// [planner] tp kept.
std::map<std::string, int> uniform_layout(const ScenarioModel& m, const CostModel& cost, int t) {
  std::map<std::string, int> out;
  for (const auto& [c, tp] : cost.layout()) {
    const auto fixed = m.s.planner.tp.find(c);
    if (fixed != m.s.planner.tp.end()) {
      out[c] = fixed->second;
      continue;
    }
    const std::vector<int> options = cost.tp_options(c);
    out[c] = options.front();
    for (int o : options)
      if (o <= t) out[c] = o;
  }
  return out;
}

// Every component at the smallest TP degree it fits memory with (data parallel wherever memory
// allows), degrees fixed by [planner] tp kept: the layout a data-parallel user runs.
std::map<std::string, int> smallest_layout(const ScenarioModel& m) { return uniform_layout(m, m.cost, 1); }

std::string layout_text(const std::map<std::string, int>& layout) {
  std::string t;
  for (const auto& [c, tp] : layout) t += (t.empty() ? "" : " ") + c + "=" + std::to_string(tp);
  return "{" + t + "}";
}

// A TP layout with a ZeRO-1 setting: what a Megatron-LM user chooses besides the schedule
// (--tensor-model-parallel-size, --use-distributed-optimizer).
struct Layout {
  std::map<std::string, int> tp;
  bool zero1 = false;
  bool operator==(const Layout& o) const { return tp == o.tp && zero1 == o.zero1; }
};

std::string layout_text(const Layout& l) { return layout_text(l.tp) + (l.zero1 ? " with ZeRO-1" : ""); }
std::string layout_text(const Plan& p) { return layout_text(Layout{p.tp, p.zero1}); }

// The layouts a user tries besides the planner's: the smallest (data parallel wherever memory
// allows), then one TP size for the whole model, 2, 4 and 8; each once, the planner's left out.
// Where the scenario has ZeRO-1 off, also those that fit memory only with it (smaller TP sizes).
std::vector<Layout> alternative_layouts(const ScenarioModel& m) {
  std::vector<Layout> out;
  const Layout planner{m.cost.layout(), m.cost.zero1()};
  auto add = [&](const Layout& l) {
    if (!(l == planner) && std::find(out.begin(), out.end(), l) == out.end()) out.push_back(l);
  };
  add({smallest_layout(m), m.cost.zero1()});
  for (int t : {2, 4, 8}) add({uniform_layout(m, m.cost, t), m.cost.zero1()});
  if (!m.zero1_cost) return out;
  for (int t : {1, 2, 4, 8}) {
    const std::map<std::string, int> tp = uniform_layout(m, *m.zero1_cost, t);
    if (!m.cost.layout_problem(tp).empty()) add({tp, true});
  }
  return out;
}

// The same planners on another layout (plans are scored only up to [planner]
// score_candidates_up_to_gpus GPUs).
struct AltLayout {
  AltLayout(const ScenarioModel& m, const Layout& l)
      : cost((l.zero1 == m.cost.zero1() ? m.cost : *m.zero1_cost).with_layout(l.tp)), planner(m.s, m.mg, cost) {}
  Layout layout() const { return {cost.layout(), cost.zero1()}; }
  CostModel cost;
  SystemPlanner planner;
  // `name`'s plan on this layout, with the scenario's bounds (C* of the scenario's layout).
  Plan plan(const ScenarioModel& m, const std::string& name) {
    Plan p = planner.plan(name);
    set_bounds(p, m.mg, m.cost);
    return p;
  }
};

using AltLayouts = std::vector<std::unique_ptr<AltLayout>>;

std::vector<AltLayout*> view(const AltLayouts& a) {
  std::vector<AltLayout*> out;
  for (const auto& x : a) out.push_back(x.get());
  return out;
}

AltLayouts alt_layouts(const ScenarioModel& m) {
  AltLayouts out;
  if (m.s.cluster.gpus() > m.s.planner.score_candidates_up_to_gpus) return out;
  for (const Layout& layout : alternative_layouts(m)) out.push_back(std::make_unique<AltLayout>(m, layout));
  return out;
}

// TP layouts beyond the sweep's list, each made when first asked for: a layout again with
// ZeRO-1 (what a user turns on when it does not fit memory without it; the scenario has it
// off), and the layouts a baseline's per-component tuning tries.
class MoreLayouts {
 public:
  MoreLayouts(const ScenarioModel& m, const AltLayouts& alts) : m_(m), alts_(alts) {}
  // nullptr where `l` is the planner's layout or in the sweep's list (tried already), or not
  // possible (ZeRO-1 asked for and the scenario has it on; a degree not among the options).
  AltLayout* get(const Layout& l) {
    const CostModel* cost = l.zero1 == m_.cost.zero1() ? &m_.cost : (m_.zero1_cost ? &*m_.zero1_cost : nullptr);
    if (cost == nullptr || !cost->layout_problem(l.tp).empty()) return nullptr;
    if (l == Layout{m_.cost.layout(), m_.cost.zero1()}) return nullptr;
    for (const auto& a : alts_)
      if (a->layout() == l) return nullptr;
    auto& slot = made_[{l.tp, l.zero1}];
    if (!slot) slot = std::make_unique<AltLayout>(m_, l);
    return slot.get();
  }
  // `tp` with ZeRO-1, as get().
  AltLayout* zero1(const std::map<std::string, int>& tp) {
    return m_.zero1_cost ? get(Layout{tp, true}) : nullptr;
  }

 private:
  const ScenarioModel& m_;
  const AltLayouts& alts_;
  std::map<std::pair<std::map<std::string, int>, bool>, std::unique_ptr<AltLayout>> made_;
};

void set_estimate(const ScenarioModel& m, PlannedSystem& ps) {
  if (ps.estimated_s > 0) return;  // spindle's, from its choice
  const IterationEstimate e = estimate(m, lower_checked(m, ps.plan));
  ps.estimated_s = e.iteration_s;
  ps.estimated_sync_s = e.sync_s;
}

// Indices 0..n-1 ordered by `less` (stable).
template <class Less>
std::vector<size_t> ranked(size_t n, Less less) {
  std::vector<size_t> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), less);
  return order;
}

// A baseline's plan as tune_baseline() (below) tunes its TP layout.
struct TunedBaseline {
  PlannedSystem ps;
  double per_component_s = 0;  // wall time of the per-component pass
};

// spindle's choice: every candidate plan (its own, with Megatron-LM's sync, and every other
// system's, with that system's sync) placed by Spindle's placement, lowered and estimated;
// the three fastest also placed on device ids in order; the two fastest of all tried again
// with every other sync setting; the fastest estimate within memory is taken. Above
// [planner] score_candidates_up_to_gpus, the compute-fastest own candidate is kept unscored.
PlannedSystem choose_spindle(const ScenarioModel& m, SystemPlanner& planner, const std::vector<std::string>& others,
                             const std::vector<AltLayout*>& alts, MoreLayouts& more,
                             const std::vector<const TunedBaseline*>& tuned) {
  std::vector<AltLayout*> with_zero1;  // layouts tried again with ZeRO-1
  const auto t0 = std::chrono::steady_clock::now();
  // Planning time: the plans spindle uses (each as if planned alone, whenever it was planned)
  // plus its own scoring (the window's wall time less the plans made inside it).
  auto shared_s = [&] {
    double x = planner.seconds("spindle");
    for (const std::string& other : others) x += planner.seconds(other);
    for (const TunedBaseline* t : tuned) x += t->per_component_s;
    for (const std::vector<AltLayout*>* list : std::initializer_list<const std::vector<AltLayout*>*>{&alts, &with_zero1})
      for (const AltLayout* alt : *list) {
        if (alt->cost.layout() == smallest_layout(m)) x += alt->planner.seconds("spindle");
        for (const std::string& other : others) x += alt->planner.seconds(other);
      }
    return x;
  };
  const double shared_before = shared_s();
  auto planning_s = [&] {
    const double shared = shared_s();
    return shared + std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() -
           (shared - shared_before);
  };
  struct Scored {
    std::string name;  // for the notes
    Plan plan;         // placed
    PlacementReport placement;
    IterationEstimate estimate;
  };
  std::vector<PlanCandidate> cands = planner.spindle_own();
  for (const std::string& other : others) {
    PlanCandidate c{other + "'s plan", planner.plan(other)};
    c.plan.system = "spindle";
    c.plan.schedule_from = other;  // and its sync settings, as that system runs it
    for (std::string& note : c.plan.notes) note = other + "'s plan: " + note;
    cands.push_back(std::move(c));
  }
  // Its own plans again on the smallest layout, every other one on every layout.
  auto add_layout = [&](AltLayout* alt) {
    const std::string suffix = " on the TP layout " + layout_text(alt->layout());
    if (alt->cost.layout() == smallest_layout(m))
      for (PlanCandidate c : alt->planner.spindle_own()) {
        set_bounds(c.plan, m.mg, m.cost);
        c.name += suffix;
        cands.push_back(std::move(c));
      }
    for (const std::string& other : others) {
      PlanCandidate c{other + "'s plan" + suffix, alt->plan(m, other)};
      c.plan.system = "spindle";
      c.plan.schedule_from = other;
      for (std::string& note : c.plan.notes) note = other + "'s plan: " + note;
      cands.push_back(std::move(c));
    }
  };
  for (AltLayout* alt : alts) add_layout(alt);
  // The others' plans on the layouts their per-component tuning took, where not tried above.
  for (const TunedBaseline* t : tuned) {
    AltLayout* alt = more.get(Layout{t->ps.plan.tp, t->ps.plan.zero1});  // null: the planner's or a swept one
    if (alt == nullptr) continue;
    const std::string& other = t->ps.plan.system;
    PlanCandidate c{other + "'s plan on its tuned TP layout " + layout_text(alt->layout()), alt->plan(m, other)};
    c.plan.system = "spindle";
    c.plan.schedule_from = other;
    for (std::string& note : c.plan.notes) note = other + "'s plan: " + note;
    cands.push_back(std::move(c));
  }
  std::vector<Scored> scored;
  auto score = [&](const PlanCandidate& c, PlacementPolicy policy) {
    Scored x{c.name + ", " + placement_name(policy) + " placement", c.plan, {}, {}};
    x.placement = place(x.plan, m.s, m.g, m.mg, policy);
    x.estimate = estimate(m, lower_checked(m, x.plan));
    scored.push_back(std::move(x));
  };
  const int gpus = m.s.cluster.gpus();
  if (gpus > m.s.planner.score_candidates_up_to_gpus) {
    // Too large to score every candidate (the estimate costs about as much as a simulation):
    // the compute-fastest own candidate, as SystemPlanner plans it.
    Scored b{"its compute-fastest plan", planner.plan("spindle"), {}, {}};
    b.placement = place(b.plan, m.s, m.g, m.mg, PlacementPolicy::kSpindle);
    b.plan.notes.push_back("candidates not scored by the estimate: " + std::to_string(gpus) +
                           " GPUs > [planner] score_candidates_up_to_gpus = " +
                           std::to_string(m.s.planner.score_candidates_up_to_gpus) +
                           "; kept the compute-fastest own candidate");
    b.plan.notes.push_back("weight sync: " + b.plan.sync.text());
    PlannedSystem out{std::move(b.plan), b.placement, 0.0, "", ""};
    out.planning_s = planning_s();
    return out;
  }
  // Every candidate with Spindle's placement, then the three fastest also on device ids in order.
  for (const PlanCandidate& c : cands) score(c, PlacementPolicy::kSpindle);
  // The layouts of candidates over memory without ZeRO-1 again with it, as the baselines' users
  // turn it on (cands[i] stays scored[i]).
  for (const Scored& x : scored)
    if (x.placement.over_memory_devices > 0 && !x.plan.zero1)
      if (AltLayout* a = more.zero1(x.plan.tp); a && std::find(with_zero1.begin(), with_zero1.end(), a) == with_zero1.end())
        with_zero1.push_back(a);
  const size_t first_zero1 = cands.size();
  for (AltLayout* alt : with_zero1) add_layout(alt);
  for (size_t i = first_zero1; i < cands.size(); ++i) score(cands[i], PlacementPolicy::kSpindle);
  const std::vector<size_t> by_estimate = ranked(scored.size(), [&](size_t a, size_t b) {
    return scored[a].estimate.iteration_s < scored[b].estimate.iteration_s;
  });
  for (size_t k = 0; k < std::min<size_t>(3, by_estimate.size()); ++k)
    score(cands[by_estimate[k]], PlacementPolicy::kSequential);
  // Memory is a hard constraint: a placement within memory beats any that is not.
  auto better = [](const Scored& a, const Scored& b) {
    const bool fa = a.placement.over_memory_devices == 0, fb = b.placement.over_memory_devices == 0;
    if (fa != fb) return fa;
    return a.estimate.iteration_s < b.estimate.iteration_s * (1 - 1e-9);
  };
  const std::vector<size_t> order =
      ranked(scored.size(), [&](size_t a, size_t b) { return better(scored[a], scored[b]); });
  const std::vector<SyncPolicy> syncs = sync_choices(m.s.planner);
  for (size_t k = 0; k < std::min<size_t>(2, order.size()); ++k) {
    const Scored base = scored[order[k]];
    for (size_t j = 0; j < syncs.size(); ++j) {
      if (syncs[j].framework == base.plan.sync.framework) continue;
      Scored x = base;
      x.plan.sync = syncs[j];
      x.name += ", " + syncs[j].framework + " sync";
      x.estimate = estimate(m, lower_checked(m, x.plan));
      scored.push_back(std::move(x));
    }
  }
  size_t best = 0;
  for (size_t i = 1; i < scored.size(); ++i)
    if (better(scored[i], scored[best])) best = i;
  std::string tried;
  const size_t shown = std::min<size_t>(6, order.size());
  for (size_t k = 0; k < shown; ++k)
    tried += (k ? "; " : "") + scored[order[k]].name + " " + fixed(scored[order[k]].estimate.iteration_s * 1e3, 3) + " ms";
  if (order.size() > shown) tried += "; " + std::to_string(order.size() - shown) + " slower";
  Scored& b = scored[best];
  b.plan.notes.push_back("chosen by the estimated iteration (compute, transfers and weight sync on the placed devices) "
                         "among " + std::to_string(scored.size()) + " candidates; taken: " + b.name + ", " +
                         fixed(b.estimate.iteration_s * 1e3, 3) + " ms; fastest before trying other sync settings: " + tried);
  b.plan.notes.push_back("weight sync: " + b.plan.sync.text());
  PlannedSystem out{std::move(b.plan), b.placement, 0.0, "", ""};
  out.estimated_s = b.estimate.iteration_s;
  out.estimated_sync_s = b.estimate.sync_s;
  out.planning_s = planning_s();
  return out;
}

// `name`'s plan as a user tunes it: the planner's TP layout, the smallest one (data parallel
// wherever memory allows) and one TP size for the whole model (2, 4, 8), each over memory
// again with ZeRO-1, whichever the estimate finds fastest (within memory first); then, one pass
// over the components, each at every other degree it allows, kept where faster (Megatron-LM
// sets an encoder's TP size apart from the language model's): a component
// used by one task gets that task's best degree, a shared one keeps one degree for every task,
// as in one job.
TunedBaseline tune_baseline(const ScenarioModel& m, SystemPlanner& planner, const std::string& name,
                            const std::vector<AltLayout*>& alts, MoreLayouts& more) {
  Plan p = planner.plan(name);
  p.notes.push_back("weight sync: " + p.sync.text());
  PlacementReport rep = place(p, m.s, m.g, m.mg, PlacementPolicy::kSpindle);
  PlannedSystem ps{std::move(p), rep, planner.seconds(name), "", ""};
  if (alts.empty()) return {std::move(ps), 0.0};
  const auto t0 = std::chrono::steady_clock::now();
  set_estimate(m, ps);
  std::string note = "TP layout chosen by the estimate: " + layout_text(ps.plan) + " " + fixed(ps.estimated_s * 1e3, 3) + " ms";
  const double planning = ps.planning_s;
  // Planning time: this window's work plus the plans it took ready-made (SystemPlanner times
  // each once, when spindle's candidates made it earlier).
  double earlier_s = 0;
  auto on = [&](AltLayout* alt) {
    earlier_s += alt->planner.seconds(name);  // 0 unless made before
    Plan q = alt->plan(m, name);
    q.notes.push_back("weight sync: " + q.sync.text());
    PlacementReport qrep = place(q, m.s, m.g, m.mg, PlacementPolicy::kSpindle);
    PlannedSystem qs{std::move(q), qrep, 0.0, "", ""};
    set_estimate(m, qs);
    return qs;
  };
  auto better = [](const PlannedSystem& q, const PlannedSystem& than) {
    const bool fp = than.placement.over_memory_devices == 0, fq = q.placement.over_memory_devices == 0;
    return fp != fq ? fq : q.estimated_s < than.estimated_s * (1 - 1e-9);
  };
  // Layouts whose plan is over memory without ZeRO-1 are tried again with it.
  std::vector<AltLayout*> with_zero1;
  auto over_memory = [&](const PlannedSystem& x) {
    if (x.placement.over_memory_devices == 0 || x.plan.zero1) return;
    if (AltLayout* a = more.zero1(x.plan.tp)) with_zero1.push_back(a);
  };
  over_memory(ps);
  auto try_layouts = [&](const std::vector<AltLayout*>& layouts) {
    for (AltLayout* alt : layouts) {
      PlannedSystem qs = on(alt);
      note += ", " + layout_text(qs.plan) + " " + fixed(qs.estimated_s * 1e3, 3) + " ms";
      over_memory(qs);
      if (better(qs, ps)) ps = std::move(qs);
    }
  };
  try_layouts(alts);
  if (!with_zero1.empty()) {
    note += "; over memory, so with ZeRO-1";
    try_layouts(std::vector<AltLayout*>(with_zero1));
  }
  note += "; taken: " + layout_text(ps.plan);
  // Per component, from the layout taken.
  const auto t1 = std::chrono::steady_clock::now();
  const CostModel& cost = ps.plan.zero1 == m.cost.zero1() ? m.cost : *m.zero1_cost;
  int tried = 0;
  std::string kept;
  auto try_degree = [&](const std::string& c, int t) {
    Layout trial{ps.plan.tp, ps.plan.zero1};
    trial.tp[c] = t;
    AltLayout* alt = more.get(trial);
    if (alt == nullptr) return false;
    ++tried;
    PlannedSystem qs = on(alt);
    if (!better(qs, ps)) return false;
    kept += (kept.empty() ? "" : ", ") + c + "=" + std::to_string(t) + " " + fixed(qs.estimated_s * 1e3, 3) + " ms";
    ps = std::move(qs);
    return true;
  };
  for (const auto& [c, start] : std::map<std::string, int>(ps.plan.tp)) {
    if (m.s.planner.tp.count(c)) continue;
    // Every other degree (not only the neighbours: a degree's time is not monotone in it).
    for (int t : cost.tp_options(c))
      if (t != start) try_degree(c, t);
  }
  if (tried > 0)
    note += "; then per component (" + std::to_string(tried) + " layouts): " +
            (kept.empty() ? "none faster" : kept + "; taken: " + layout_text(ps.plan));
  const auto t2 = std::chrono::steady_clock::now();
  ps.planning_s = planning + earlier_s + std::chrono::duration<double>(t2 - t0).count();
  ps.plan.notes.push_back(note);
  return {std::move(ps), std::chrono::duration<double>(t2 - t1).count()};
}

}  // namespace

std::vector<PlannedSystem> plan_systems(const ScenarioModel& m, const std::vector<std::string>& systems,
                                        bool placement_ablation) {
  for (const std::string& name : systems) check_system_name(name);
  std::vector<std::string> unique;
  for (const std::string& name : systems)
    if (std::find(unique.begin(), unique.end(), name) == unique.end()) unique.push_back(name);
  SystemPlanner planner(m.s, m.mg, m.cost);
  const AltLayouts alts = alt_layouts(m);
  MoreLayouts more(m, alts);
  // Each baseline tuned once (spindle takes their tuned plans as candidates).
  std::map<std::string, TunedBaseline> tuned;
  auto tune = [&](const std::string& name) -> const TunedBaseline& {
    auto it = tuned.find(name);
    if (it == tuned.end()) it = tuned.emplace(name, tune_baseline(m, planner, name, view(alts), more)).first;
    return it->second;
  };
  std::vector<PlannedSystem> out, ablated;
  for (const std::string& name : unique) {
    PlannedSystem ps;
    if (name == "spindle") {
      std::vector<std::string> others;
      std::vector<const TunedBaseline*> others_tuned;
      for (const std::string& o : system_names())
        if (o != "spindle") {
          others.push_back(o);
          if (!alts.empty()) others_tuned.push_back(&tune(o));
        }
      ps = choose_spindle(m, planner, others, view(alts), more, others_tuned);
    } else {
      ps = tune(name).ps;
    }
    ps.plan.peak_slice_GiB = peak_slice_GiB(ps.plan, m.s, m.g, m.mg);
    if (placement_ablation && name == "spindle") {
      // The same plan on device ids in order: what placement buys (left out when identical).
      Plan in_order = ps.plan;
      PlacementReport rep = place(in_order, m.s, m.g, m.mg, PlacementPolicy::kSequential);
      bool same = true;
      for (size_t w = 0; w < in_order.waves.size() && same; ++w)
        for (size_t k = 0; k < in_order.waves[w].slices.size() && same; ++k)
          same = in_order.waves[w].slices[k].devices == ps.plan.waves[w].slices[k].devices;
      if (!same) ablated.push_back({std::move(in_order), rep, 0.0, "", "sequential-placement"});
    }
    out.push_back(std::move(ps));
  }
  for (PlannedSystem& a : ablated) out.push_back(std::move(a));
  for (PlannedSystem& ps : out) set_estimate(m, ps);
  return out;
}

PlannedSystem plan_from_file(const ScenarioModel& m, const std::string& file) {
  Plan p = read_plan(file, m.s, m.mg, m.cost, m.zero1_cost ? &*m.zero1_cost : nullptr);
  set_bounds(p, m.mg, m.cost);
  p.peak_slice_GiB = peak_slice_GiB(p, m.s, m.g, m.mg);
  PlacementReport rep = is_placed(p) ? measure_placement(p, m.s, m.g, m.mg)
                                     : place(p, m.s, m.g, m.mg, PlacementPolicy::kSpindle);
  PlannedSystem out{std::move(p), rep, 0.0, file, ""};
  set_estimate(m, out);
  return out;
}

IterationEstimate estimate(const ScenarioModel& m, const Programs& programs) {
  return estimate_iteration(programs, compute_seconds(programs, m.s, m.mg, m.cost), m.s.cluster);
}

Programs lower_checked(const ScenarioModel& m, const Plan& plan) {
  Programs programs = lower(plan, m.s, m.g, m.mg);
  const std::string problem = replay(programs);
  if (!problem.empty()) throw InternalError(plan.system + " programs do not complete: " + problem);
  return programs;
}

LoweredPlan lowered_plan(const ScenarioModel& m, const std::string& system, const std::string& plan_file) {
  LoweredPlan out;
  out.plan = plan_file.empty() ? plan_systems(m, {system}).front().plan : plan_from_file(m, plan_file).plan;
  out.programs = lower_checked(m, out.plan);
  return out;
}

}  // namespace spindle
