// libFuzzer target: any bytes as `--set KEY=VALUE` overrides (one per line) on
// multitask-clip-4.toml, then the graph built and contracted. Only InputError may escape.
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include "planner/config/scenario.h"
#include "planner/graph/graph_builder.h"
#include "planner/graph/metagraph.h"
#include "traces/errors.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  spindle::LoadOptions options;
  std::istringstream lines(std::string(reinterpret_cast<const char*>(data), size));
  for (std::string line; std::getline(lines, line);) options.overrides.push_back(line);
  try {
    const spindle::Scenario s =
        spindle::load_scenario(spindle::default_data_dir() / "multitask-clip-4.toml", options);
    (void)spindle::contract(spindle::build_graph(s));
  } catch (const spindle::InputError&) {
  }
  return 0;
}
