// Shared set-up for engine tests: a zoo scenario loaded and scaled.
#pragma once

#include <string>

#include "engine/model/model_scale.h"
#include "planner/config/scenario.h"

namespace spindle::engine::test {

inline Scenario zoo(const std::string& name, const std::string& scale = "tiny") {
  return scale_scenario(load_scenario(std::string(SPINDLE_SOURCE_DIR) + "/scenarios/" + name + ".toml"),
                        find_scale(scale));
}

}  // namespace spindle::engine::test
