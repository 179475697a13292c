// What `spindle-sim` prints about a scenario before planning: the cluster, the components and
// their parameters, the tasks, and the MetaOp table, as text for people or as JSON for
// scripts (field names documented in README.md and kept stable).
#pragma once

#include <string>

#include "planner/config/scenario.h"
#include "planner/cost/cost_model.h"
#include "planner/graph/graph.h"
#include "planner/graph/metagraph.h"
#include "planner/report/plan_report.h"

namespace spindle {

inline constexpr int kSummaryFormatVersion = 1;

std::string summary_text(const Scenario& s, const Graph& g, const MetaGraph& mg);
// With `cost`, each MetaOp also carries `curve`, `config`, `mem_GiB`, `fit` and
// `flops_only_t1_s`, and the top level a `cost_model` object (`profile_file` names the profile).
// With `systems`, a top-level `systems` list: name, planned_s, cstar_s, lower_bound_s,
// planning_s (wall clock; null when not shown, as in files), waves (count).
std::string summary_json(const Scenario& s, const Graph& g, const MetaGraph& mg, const CostModel* cost = nullptr,
                         const std::string& profile_file = "", const std::vector<PlannedSystem>* systems = nullptr);

// Graphviz sources of G (operators, one cluster per task, side edges dashed) and of the
// MetaGraph G_M (one rank per MetaLevel).
std::string graph_dot(const Scenario& s, const Graph& g);
std::string metagraph_dot(const Scenario& s, const MetaGraph& mg);

}  // namespace spindle
