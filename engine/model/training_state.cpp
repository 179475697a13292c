// A run's training state and back (see training_state.h).
#include "engine/model/training_state.h"

#include "traces/errors.h"

namespace spindle::engine {

TrainingState training_state(const Scenario& s, const TrainOptions& o, std::int64_t step,
                             const std::vector<std::int64_t>& positions) {
  TrainingState st;
  st.step = step;
  st.seed = o.seed;
  st.scale = o.scale;
  for (size_t t = 0; t < s.tasks.size(); ++t) st.positions.emplace_back(s.tasks[t].name, positions.at(t));
  return st;
}

std::vector<std::int64_t> task_positions(const Scenario& s, const TrainingState& st) {
  std::vector<std::int64_t> out;
  for (const Task& t : s.tasks)
    for (const auto& [name, pos] : st.positions)
      if (name == t.name) out.push_back(pos);
  if (out.size() != s.tasks.size()) throw InternalError("checkpoint state: tasks differ from the scenario's");
  return out;
}

}  // namespace spindle::engine
