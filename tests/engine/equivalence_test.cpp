// Equivalence of every system's distributed plan with one device: tiny multitask-clip-4,
// ofasys-4 and qwen-val-3, each system's placed plan on 2, 4 and 8 logical devices, one
// iteration checked by equivalence_check.h.
#include <gtest/gtest.h>

#include <cstdio>
#include <tuple>

#include "engine/launch/logical_devices.h"
#include "engine_test_util.h"
#include "equivalence_check.h"
#include "planner/pipeline.h"
#include "planner/schedule/systems.h"

namespace spindle::engine::test {
namespace {

using Case = std::tuple<std::string, std::string, int>;  // scenario, system, devices

class Systems : public ::testing::TestWithParam<Case> {};

TEST_P(Systems, MatchOneDevice) {
  const auto& [name, system, devices] = GetParam();
  const Scenario s = on_devices(zoo(name), devices);
  const LoweredPlan run = lowered_plan(ScenarioModel(s), system, "");
  const Agreement a =
      check_equivalence(s, run.programs, name + " " + system + " on " + std::to_string(devices), name + " tiny");
  std::printf("[equivalence] %s %s %d devices: worst loss diff %.3g, worst gradient diff %.3g (%s)\n", name.c_str(),
              system.c_str(), devices, a.worst_loss, a.worst_grad, a.worst_grad_name.c_str());
}

std::string case_name(const ::testing::TestParamInfo<Case>& info) {
  std::string n = std::get<0>(info.param) + "_" + std::get<1>(info.param) + "_" + std::to_string(std::get<2>(info.param));
  for (char& c : n)
    if (c == '-') c = '_';
  return n;
}

INSTANTIATE_TEST_SUITE_P(equivalence, Systems,
                         ::testing::Combine(::testing::Values("multitask-clip-4", "ofasys-4", "qwen-val-3"),
                                            ::testing::ValuesIn(system_names()), ::testing::Values(2, 4, 8)),
                         case_name);

}  // namespace
}  // namespace spindle::engine::test
