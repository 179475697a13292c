// The planners a user compares, by name: `spindle` (spindle.h), `spindle-paper`
// (spindle_paper.h) and the baselines `sequential`, `uniform` and `optimus` (baselines.h).
// All produce the same Plan, finished, with C* and the lower bound filled in, and the weight
// sync settings of the framework each stands for (sync_policy). A SystemPlanner does each
// piece of work once per scenario. Here spindle is its compute-fastest own plan; the pipeline
// makes its final choice by the estimated iteration (pipeline.h).
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "planner/config/scenario.h"
#include "planner/cost/cost_model.h"
#include "planner/graph/metagraph.h"
#include "planner/schedule/plan.h"
#include "planner/schedule/level_search.h"
#include "planner/schedule/spindle.h"

namespace spindle {

// spindle (no level barrier), spindle-paper, sequential, uniform, optimus.
const std::vector<std::string>& system_names();
// Throws InputError "--system NAME: unknown system; allowed: ..." unless NAME is one of them.
void check_system_name(const std::string& name);

// The weight sync of `system` as the framework it stands for runs it (README "Weight sync"):
// sequential, optimus and spindle-paper as Megatron-LM with --overlap-grad-reduce (buckets of
// max(40M, 1M x ranks) parameters), uniform as PyTorch DDP (25 MiB buckets, the first 1 MiB),
// spindle the same as Megatron-LM unless the pipeline finds another of these faster. Gradients
// are reduced in [planner] grad_reduce_dtype (fp32, Megatron-LM's default with bf16 training);
// [planner] sync_bucket_Mparams > 0 sets every system's cap.
SyncPolicy sync_policy(const std::string& system, const PlannerOptions& options);
// The settings spindle may choose from: Megatron-LM's, PyTorch DDP's, one bucket per group.
std::vector<SyncPolicy> sync_choices(const PlannerOptions& options);

// Plans systems of one scenario (which it must outlive), each once, in any order.
class SystemPlanner {
 public:
  SystemPlanner(const Scenario& s, const MetaGraph& mg, const CostModel& cost);

  // The finished plan of `name`, planned on first request. Throws InputError for an unknown name.
  const Plan& plan(const std::string& name);
  // spindle's own candidates (spindle.h), planned once.
  const std::vector<PlanCandidate>& spindle_own();
  // Wall-clock seconds planning `name` took, the shared work it needed included (the level
  // search), as if planned alone. For terminals and timing.json.
  double seconds(const std::string& name) const;

 private:
  const LevelPlans& levels();
  double own_seconds(const std::string& name) const;

  const Scenario& s_;
  const MetaGraph& mg_;
  const CostModel& cost_;
  std::optional<LevelPlans> levels_;
  double levels_s_ = 0;
  std::optional<std::vector<PlanCandidate>> own_;
  std::map<std::string, Plan> plans_;
  std::map<std::string, double> own_s_;  // each plan's own work, shared work left out
};

// One system's plan, planned alone.
Plan plan_system(const std::string& name, const Scenario& s, const MetaGraph& mg, const CostModel& cost);

}  // namespace spindle
