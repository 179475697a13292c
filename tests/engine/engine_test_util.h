// Shared set-up for engine tests: a zoo scenario loaded and scaled, from the source tree's
// scenarios/ (or $SPINDLE_SCENARIOS: a bundle run on another machine, scripts/device-check).
#pragma once

#include <cstdlib>
#include <string>

#include "planner/config/model_scale.h"
#include "planner/config/scenario.h"

namespace spindle::engine::test {

inline Scenario zoo(const std::string& name, const std::string& scale = "tiny") {
  const char* dir = std::getenv("SPINDLE_SCENARIOS");
  const std::string scenarios = dir != nullptr && *dir != 0 ? dir : std::string(SPINDLE_SOURCE_DIR) + "/scenarios";
  return scale_scenario(load_scenario(scenarios + "/" + name + ".toml"), find_scale(scale));
}

}  // namespace spindle::engine::test
