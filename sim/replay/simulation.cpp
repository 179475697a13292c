// Programs -> simulated iterations, one child process per simulation (see simulation.h).
#include "sim/replay/simulation.h"

#include <functional>

#include "planner/program/instr_time.h"
#include "sim/replay/process_pool.h"
#include "traces/errors.h"

namespace spindle {

std::vector<ReplayResult> simulate_programs(const Cluster& cluster, const std::vector<Programs>& programs,
                                            const std::vector<std::vector<std::vector<double>>>& seconds,
                                            const NetworkOptions& options) {
  if (programs.size() != seconds.size()) throw InternalError("simulate_programs: programs and seconds differ in count");
  std::vector<std::function<std::string()>> jobs;
  for (size_t i = 0; i < programs.size(); ++i)
    jobs.push_back([&, i] { return serialize(replay_on_network(cluster, programs[i], seconds[i], options)); });
  std::vector<ReplayResult> out;
  for (const std::string& text : run_in_children(jobs)) out.push_back(deserialize_replay(text));
  return out;
}

std::vector<ReplayResult> simulate(const ScenarioModel& m, const std::vector<Programs>& programs,
                                   const NetworkOptions& options) {
  std::vector<std::vector<std::vector<double>>> seconds;
  for (const Programs& p : programs) seconds.push_back(compute_seconds(p, m.s, m.mg, m.cost));
  return simulate_programs(m.s.cluster, programs, seconds, options);
}

}  // namespace spindle
