// Helpers for planner tests: a small valid scenario as text (with known line numbers, so
// error tests can assert exact FILE:LINE:COL messages) and loaders for the zoo.
#pragma once

#include <string>
#include <vector>

#include "planner/allocator.h"
#include "planner/cost_model.h"
#include "planner/graph.h"
#include "planner/graph_builder.h"
#include "planner/metagraph.h"
#include "planner/scenario.h"

namespace spindle::testing {

// A valid two-task scenario, one key per line; see test_scenarios.cpp for line numbers.
std::string small_scenario();

// `text` with line `line` (1-based) replaced by `replacement` (may hold several lines).
std::string replace_line(const std::string& text, int line, const std::string& replacement);

// Loads scenario text named "t.toml", presets resolved from the project's scenarios/.
Scenario load_text(const std::string& text, const std::vector<std::string>& overrides = {});

// The message of the InputError that loading `text` throws ("" when it loads).
std::string load_error(const std::string& text, const std::vector<std::string>& overrides = {});

// A scenario through the planner's front half. Tests bind it as
// `auto& [s, g, mg, cost] = pipe;`.
struct Pipeline {
  explicit Pipeline(Scenario scenario)
      : s(std::move(scenario)), g(build_graph(s)), mg(contract(g)), cost(s, g, mg) {}
  Scenario s;
  Graph g;
  MetaGraph mg;
  CostModel cost;
};

// A LevelItem of MetaOp `id` with `L` layers on curve `c` (valid counts: its points).
LevelItem level_item(int id, int L, const ScalingCurve& c);

// Every scenario of the zoo: scenarios/*.toml, sorted.
std::vector<std::string> zoo_files();

}  // namespace spindle::testing
