// Plans -> programs -> simulated iterations, one child process per simulation (see simulation.h).
#include "sim/simulation.h"

#include <functional>

#include "sim/compute_time.h"
#include "sim/process_pool.h"
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

std::vector<SimulatedPlan> simulate_plans(const std::vector<const Plan*>& plans, const Scenario& s, const Graph& g,
                                          const MetaGraph& mg, const CostModel& cost, const NetworkOptions& options) {
  std::vector<Programs> programs;
  std::vector<std::vector<std::vector<double>>> seconds;
  for (const Plan* p : plans) {
    programs.push_back(lower(*p, s, g, mg));
    const std::string problem = replay(programs.back());
    if (!problem.empty()) throw InternalError(p->system + " programs do not complete: " + problem);
    seconds.push_back(compute_seconds(programs.back(), s, mg, cost));
  }
  std::vector<ReplayResult> results = simulate_programs(s.cluster, programs, seconds, options);
  std::vector<SimulatedPlan> out;
  for (size_t i = 0; i < plans.size(); ++i) out.push_back({std::move(programs[i]), std::move(results[i])});
  return out;
}

}  // namespace spindle
