// Helpers for planner tests: a small valid scenario as text (with known line numbers, so
// error tests can assert exact FILE:LINE:COL messages) and loaders for the zoo.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "planner/config/scenario.h"
#include "planner/cost/cost_model.h"
#include "planner/graph/graph.h"
#include "planner/graph/graph_builder.h"
#include "planner/graph/metagraph.h"
#include "planner/pipeline.h"
#include "planner/schedule/allocator.h"
#include "planner/schedule/plan.h"

namespace spindle::testing {

// A valid two-task scenario, one key per line; see test_scenarios.cpp for line numbers.
std::string small_scenario();

// `text` with line `line` (1-based) replaced by `replacement` (may hold several lines).
std::string replace_line(const std::string& text, int line, const std::string& replacement);

// Loads scenario text named "t.toml", presets resolved from the project's scenarios/.
Scenario load_text(const std::string& text, const std::vector<std::string>& overrides = {});

// The message of the InputError that loading `text` throws ("" when it loads).
std::string load_error(const std::string& text, const std::vector<std::string>& overrides = {});

// T(n) = a / n sampled at the divisors of `batch` (forward a third of it).
ScalingCurve linear_curve(double a, int batch);

// A LevelItem of MetaOp `id` with `L` layers on curve `c` (valid counts: its points).
LevelItem level_item(int id, int L, const ScalingCurve& c);

// Expects every slice of `p` placed on n distinct devices that run nothing else meanwhile,
// with the devices' rows partitioning the batch (gtest failures name `what`).
void check_placed(const Plan& p, const MetaGraph& mg, const std::string& what);

// A path in the temporary folder no other test run uses: NAME prefixed with the process id
// and a counter, so that two runs of the suite can overlap.
std::filesystem::path unique_temp_path(const std::string& name);

// Every scenario of the zoo: scenarios/*.toml, sorted.
std::vector<std::string> zoo_files();

}  // namespace spindle::testing
