// The planners by name, each planned once per scenario (see systems.h).
#include "planner/schedule/systems.h"

#include <algorithm>
#include <chrono>

#include "planner/schedule/baselines.h"
#include "planner/schedule/bounds.h"
#include "planner/schedule/spindle.h"
#include "traces/errors.h"
#include "traces/text_table.h"

namespace spindle {
namespace {

const std::vector<std::string> kBaselines = {"sequential", "uniform", "optimus"};

bool uses_levels(const std::string& name) { return name == "spindle" || name == "spindle-paper"; }

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

const Plan& SystemPlanner::plan(const std::string& name) {
  if (auto it = plans_.find(name); it != plans_.end()) return it->second;
  check_system_name(name);
  // The baselines a Spindle planner compares itself with, planned first (and timed apart).
  if (uses_levels(name)) {
    levels();
    for (const std::string& other : kBaselines) plan(other);
  }
  const auto t0 = std::chrono::steady_clock::now();
  Plan p;
  if (name == "spindle") p = plan_spindle(levels(), s_, mg_, cost_);
  else if (name == "spindle-paper") p = levels().packed;
  else if (name == "sequential") p = plan_sequential(s_, mg_, cost_);
  else if (name == "uniform") p = plan_uniform(s_, mg_, cost_);
  else p = plan_optimus(s_, mg_, cost_);
  p.system = name;
  p.gpus = s_.cluster.gpus();
  set_bounds(p, mg_, cost_);
  p.finish();
  if (uses_levels(name)) {
    // The planner may take another schedule as a candidate when it is better, and says so:
    // spindle keeps spindle-paper's level-barrier schedule where that is faster.
    for (const std::string& other : kBaselines) {
      Plan b = plans_.at(other);
      if (b.planned_s < p.planned_s * (1 - 1e-9)) {
        const double own = p.planned_s;
        b.notes.push_back(name + " took " + other + "'s schedule as a candidate: " + fixed(b.planned_s * 1e3, 3) +
                          " ms against its own wavefront plan's " + fixed(own * 1e3, 3) + " ms");
        b.system = name;
        b.schedule_from = other;
        p = std::move(b);
      }
    }
  }
  own_s_[name] = since(t0);
  return plans_.emplace(name, std::move(p)).first->second;
}

double SystemPlanner::own_seconds(const std::string& name) const {
  const auto it = own_s_.find(name);
  return it == own_s_.end() ? 0.0 : it->second;
}

double SystemPlanner::seconds(const std::string& name) const {
  double s = own_seconds(name);
  if (uses_levels(name)) {
    s += levels_s_;
    for (const std::string& other : kBaselines) s += own_seconds(other);
  }
  return s;
}

Plan plan_system(const std::string& name, const Scenario& s, const MetaGraph& mg, const CostModel& cost) {
  SystemPlanner planner(s, mg, cost);
  return planner.plan(name);
}

}  // namespace spindle
