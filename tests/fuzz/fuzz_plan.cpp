// libFuzzer target: any bytes as a plan file (--plan) of multitask-clip-4 at 32 GPUs, read and
// checked against the scenario. Only InputError may escape.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

#include "planner/pipeline.h"
#include "planner/schedule/plan.h"
#include "traces/atomic_file.h"
#include "traces/errors.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const spindle::ScenarioModel m(spindle::load_scenario(spindle::default_data_dir() / "multitask-clip-4.toml"));
  static const std::string file =
      (std::filesystem::temp_directory_path() / ("spindle-fuzz-plan-" + std::to_string(::getpid()) + ".json")).string();
  spindle::write_file_atomically(file, std::string(reinterpret_cast<const char*>(data), size));
  try {
    (void)spindle::read_plan(file, m.s, m.mg, m.cost);
  } catch (const spindle::InputError&) {
  }
  return 0;
}
