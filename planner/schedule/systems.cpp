// The planners by name, each planned once per scenario (see systems.h).
#include "planner/schedule/systems.h"

#include <algorithm>
#include <chrono>

#include "planner/schedule/baselines.h"
#include "planner/schedule/bounds.h"
#include "planner/schedule/spindle.h"
#include "planner/schedule/spindle_paper.h"
#include "traces/errors.h"
#include "traces/text_table.h"

namespace spindle {
namespace {

SyncPolicy megatron(const PlannerOptions& o) {
  return {"Megatron-LM", 40'000'000, 1'000'000, 0, o.grad_reduce_bytes};
}
SyncPolicy ddp(const PlannerOptions& o) {
  const std::int64_t mib = 1 << 20;
  return {"PyTorch DDP", 25 * mib / o.grad_reduce_bytes, 0, mib / o.grad_reduce_bytes, o.grad_reduce_bytes};
}

double since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

const std::vector<std::string>& system_names() {
  static const std::vector<std::string> names = {"spindle", "spindle-paper", "sequential", "uniform", "optimus"};
  return names;
}

void check_system_name(const std::string& name) {
  const std::vector<std::string>& names = system_names();
  if (std::find(names.begin(), names.end(), name) != names.end()) return;
  std::string all;
  for (const std::string& n : names) all += (all.empty() ? "" : ", ") + n;
  throw InputError("--system " + name + ": unknown system; allowed: " + all);
}

SyncPolicy sync_policy(const std::string& system, const PlannerOptions& o) {
  if (o.sync_bucket_Mparams > 0)
    return {"[planner] sync_bucket_Mparams", static_cast<std::int64_t>(o.sync_bucket_Mparams * 1e6), 0, 0,
            o.grad_reduce_bytes};
  return system == "uniform" ? ddp(o) : megatron(o);
}

std::vector<SyncPolicy> sync_choices(const PlannerOptions& o) {
  if (o.sync_bucket_Mparams > 0) return {sync_policy("spindle", o)};
  return {megatron(o), ddp(o), SyncPolicy{"one bucket per device group", 0, 0, 0, o.grad_reduce_bytes}};
}

SystemPlanner::SystemPlanner(const Scenario& s, const MetaGraph& mg, const CostModel& cost)
    : s_(s), mg_(mg), cost_(cost) {}

const LevelPlans& SystemPlanner::levels() {
  if (!levels_) {
    const auto t0 = std::chrono::steady_clock::now();
    levels_ = plan_levels(s_, mg_, cost_);
    levels_s_ = since(t0);
  }
  return *levels_;
}

const std::vector<PlanCandidate>& SystemPlanner::spindle_own() {
  if (!own_) {
    levels();
    const auto t0 = std::chrono::steady_clock::now();
    own_ = spindle_candidates(*levels_, s_, mg_, cost_);
    for (PlanCandidate& c : *own_) {
      apply_layout(c.plan, cost_);
      c.plan.system = "spindle";
      c.plan.sync = sync_policy("spindle", s_.planner);
      set_bounds(c.plan, mg_, cost_);
    }
    own_s_["spindle"] = since(t0);
  }
  return *own_;
}

const Plan& SystemPlanner::plan(const std::string& name) {
  if (auto it = plans_.find(name); it != plans_.end()) return it->second;
  check_system_name(name);
  if (name == "spindle") {
    const std::vector<PlanCandidate>& own = spindle_own();
    return plans_.emplace(name, own[fastest_candidate(own)].plan).first->second;
  }
  const auto t0 = std::chrono::steady_clock::now();
  Plan p;
  if (name == "spindle-paper") p = plan_spindle_paper(s_, mg_, cost_);
  else if (name == "sequential") p = plan_sequential(s_, mg_, cost_);
  else if (name == "uniform") p = plan_uniform(s_, mg_, cost_);
  else p = plan_optimus(s_, mg_, cost_);
  apply_layout(p, cost_);
  p.system = name;
  p.gpus = s_.cluster.gpus();
  p.sync = sync_policy(name, s_.planner);
  set_bounds(p, mg_, cost_);
  p.finish();
  own_s_[name] = since(t0);
  return plans_.emplace(name, std::move(p)).first->second;
}

double SystemPlanner::own_seconds(const std::string& name) const {
  const auto it = own_s_.find(name);
  return it == own_s_.end() ? 0.0 : it->second;
}

double SystemPlanner::seconds(const std::string& name) const {
  double s = own_seconds(name);
  if (name == "spindle") s += levels_s_;  // the level search it is made from
  return s;
}

Plan plan_system(const std::string& name, const Scenario& s, const MetaGraph& mg, const CostModel& cost) {
  SystemPlanner planner(s, mg, cost);
  return planner.plan(name);
}

}  // namespace spindle
