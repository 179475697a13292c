// libFuzzer target: any bytes as a scenario file. A bad scenario must be an InputError (one
// line, exit 2 in the programs); anything else escaping, or a sanitizer report, is a bug.
#include <cstddef>
#include <cstdint>
#include <string>

#include "planner/config/scenario.h"
#include "planner/graph/graph_builder.h"
#include "planner/graph/metagraph.h"
#include "traces/errors.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const spindle::Scenario s = spindle::load_scenario_text(text, "fuzz.toml", spindle::default_data_dir(), {});
    const spindle::Graph g = spindle::build_graph(s);
    (void)spindle::contract(g);
  } catch (const spindle::InputError&) {
  } catch (const spindle::IoError&) {  // a file the input names could not be read
  }
  return 0;
}
