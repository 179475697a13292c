// The zoo through the pipeline, once per test process: each scenario (at a given node count)
// becomes a ScenarioModel, every system's plan is made once (SystemPlanner) and placed once
// by Spindle's placement, and the zoo-wide tests share them. The binaries that use it run as
// one process each (tests/*/CMakeLists.txt), so the zoo is planned once per binary.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "planner/pipeline.h"

namespace spindle::testing {

class ZooCase {
 public:
  ZooCase(const std::string& file, int nodes, const std::vector<std::string>& extra = {});
  const ScenarioModel& model() const { return *model_; }
  const std::string& what() const { return what_; }
  // The system's finished plan, before placement.
  const Plan& plan(const std::string& system);
  // The same plan placed by Spindle's placement, and what placement measured.
  const PlannedSystem& placed(const std::string& system);

 private:
  std::string what_;
  std::unique_ptr<ScenarioModel> model_;
  std::unique_ptr<SystemPlanner> planner_;
  std::map<std::string, PlannedSystem> placed_;
};

// The zoo scenario `file` with its cluster at `nodes` nodes (0: as the file says), kept for
// the life of the process.
ZooCase& zoo_case(const std::string& file, int nodes = 0, const std::vector<std::string>& extra = {});

}  // namespace spindle::testing
