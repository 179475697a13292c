// libFuzzer target: any bytes as a study file ([study], [sweep]); the sweep is read and
// expanded and its first points loaded as scenarios. Only InputError (or IoError for a file
// the input names) may escape.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>

#include "planner/config/toml_reader.h"
#include "sim/study/sweep.h"
#include "traces/errors.h"

namespace {

// An upper bound of the sweep's points, so that the fuzzer does not spend its time expanding
// studies of up to a million points (the cap read_study enforces; tests/sim/sweep_test.cpp).
double points_bound(const spindle::config::Value* sweep) {
  using spindle::config::Value;
  if (sweep->type() == Value::Type::kArray) {
    double sum = 0;
    for (const Value& t : sweep->array()) sum += points_bound(&t);
    return sum;
  }
  if (!sweep->is_table()) return 0;
  double product = 1;
  for (const spindle::config::Entry& e : sweep->table().entries())
    if (e.value.is_table()) product *= std::max(1.0, points_bound(&e.value));
    else if (e.value.type() == Value::Type::kArray) product *= std::max<double>(1, e.value.array().size());
  return product;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  // Named inside the zoo's folder, so that `extends` and presets resolve as for a study there.
  const std::string file = (spindle::default_data_dir() / "studies" / "fuzz-study.toml").string();
  try {
    const spindle::config::Value root = spindle::config::parse_toml_string(text, file);
    if (!spindle::is_study(root) || points_bound(root.table().find("sweep")) > 20'000) return 0;
    const spindle::Study study = spindle::read_study(root, file);
    for (int i = 0; i < std::min<int>(3, static_cast<int>(study.points.size())); ++i)
      (void)spindle::load_point(study, i);
  } catch (const spindle::InputError&) {
  } catch (const spindle::IoError&) {
  }
  return 0;
}
