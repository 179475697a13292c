// Planning and simulating one iteration of the 10-task model at 8 ... 16,384 GPUs (weak-scaled:
// every task's batch grows with the GPU count so GPUs have work). Each size runs in its own
// child process (SimGrid: one engine per process; peak memory per size), which times the
// planning (cost model, plan, placement, lowering) and the simulation apart and counts the
// flows and events the simulation ran. Goals: 1,024 GPUs < 2 s, 16,384 < 60 s and 4 GiB.
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "planner/cost/cost_model.h"
#include "planner/graph/graph_builder.h"
#include "planner/place/placement.h"
#include "planner/program/lowering.h"
#include "planner/schedule/systems.h"
#include "planner/program/instr_time.h"
#include "sim/replay/collective_bench.h"
#include "sim/replay/network_sim.h"
#include "sim/replay/process_pool.h"
#include "traces/errors.h"
#include "traces/main_guard.h"
#include "traces/text_table.h"

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

double peak_MiB() {  // this process and its waited-for children
  rusage self{}, kids{};
  getrusage(RUSAGE_SELF, &self);
  getrusage(RUSAGE_CHILDREN, &kids);
  return static_cast<double>(std::max(self.ru_maxrss, kids.ru_maxrss)) / 1024.0;
}

// The weak-scaled 10-task scenario at `gpus` (a multiple of 8): batches x max(1, GPUs/32).
spindle::Scenario scenario_at(int gpus, const std::vector<std::string>& extra) {
  spindle::LoadOptions o;
  const int nodes = gpus / 8;
  o.overrides = {"cluster.nodes=" + std::to_string(nodes)};
  const std::filesystem::path file = spindle::default_data_dir() / "multitask-clip-10.toml";
  const spindle::Scenario base = spindle::load_scenario(file, o);
  const int scale = std::max(1, gpus / 32);  // the zoo batches are sized for 32 GPUs
  for (size_t k = 0; k < base.tasks.size(); ++k)
    o.overrides.push_back("tasks." + std::to_string(k) + ".batch=" + std::to_string(base.tasks[k].batch * scale));
  o.overrides.insert(o.overrides.end(), extra.begin(), extra.end());
  return spindle::load_scenario(file, o);
}

// One size, in its own process: a line of figures separated by spaces.
std::string run_size(int gpus, const std::string& system, const std::vector<std::string>& sets,
                     const spindle::NetworkOptions& net) {
  using namespace spindle;
  auto t0 = Clock::now();
  const Scenario s = scenario_at(gpus, sets);
  const Graph g = build_graph(s);
  const MetaGraph mg = contract(g);
  const CostModel cost(s, g, mg);
  const double cost_s = since(t0);
  t0 = Clock::now();
  Plan p = plan_system(system, s, mg, cost);
  const double plan_s = since(t0);
  t0 = Clock::now();
  place(p, s, g, mg, PlacementPolicy::kSpindle);
  const double place_s = since(t0);
  t0 = Clock::now();
  const Programs programs = lower(p, s, g, mg);
  const std::string problem = replay(programs);
  if (!problem.empty()) throw InternalError(system + " programs do not complete: " + problem);
  const auto seconds = compute_seconds(programs, s, mg, cost);
  const double lower_s = since(t0);
  t0 = Clock::now();
  const std::clock_t c0 = std::clock();
  const ReplayResult r = replay_on_network(s.cluster, programs, seconds, net);
  const double sim_s = since(t0), sim_cpu_s = static_cast<double>(std::clock() - c0) / CLOCKS_PER_SEC;
  std::ostringstream o;
  o.precision(17);
  o << s.cluster.gpus() << " " << cost_s << " " << plan_s << " " << place_s << " " << lower_s << " " << sim_s << " "
    << peak_MiB() << " " << r.stats.flows << " " << r.stats.events << " " << r.iteration_s << " " << p.planned_s << " " << sim_cpu_s;
  return o.str();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"spindle-bench-sim: plan and simulate one iteration of the weak-scaled 10-task model"};
  std::vector<int> gpus = {8, 64, 1024, 4096, 16384};
  std::string system = "spindle";
  std::vector<std::string> sets;
  bool ring_steps = false;
  int fine_up_to = 1024;
  app.add_option("--gpus", gpus, "GPU counts (multiples of 8)")->capture_default_str();
  app.add_option("--fine-up-to", fine_up_to,
                 "With the hierarchical ring, also simulate every ring step as its own flow (the fine collective "
                 "model) up to this many GPUs, and print the one-flow-per-phase model's error against it")
      ->capture_default_str();
  app.add_option("--system", system, "System to plan and simulate")->capture_default_str();
  app.add_option("--set", sets, "Extra scenario override KEY=VALUE (repeatable)")->type_name("KEY=VALUE");
  app.add_flag("--ring-steps", ring_steps, "Every ring step its own flow")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  return spindle::run_guarded("spindle-bench-sim", [&] {
    using spindle::fixed;
    spindle::TextTable t;
    for (const char* c : {"GPUs", "cost model s", "plan s", "place s", "lower s", "planning s", "simulation s",
                          "sim CPU s", "total s", "peak MiB", "flows", "events", "events/s", "simulated ms", "planned ms",
                          "fine ms", "fine sim s", "error %"})
      t.add_column(c, spindle::TextTable::Align::kRight);
    const spindle::NetworkOptions net{ring_steps};
    // Ring steps exist in the hierarchical ring only: NCCL's pipelined phases are not split.
    const spindle::Scenario model = scenario_at(8, sets);  // the collective model the sizes run
    const bool hierarchical = model.cluster.collectives == spindle::CollectiveModel::kHierarchicalRing;
    if (ring_steps && !hierarchical)
      throw spindle::InputError("--ring-steps: splits the hierarchical ring's phases, and NCCL's model runs; allowed: "
                                "--ring-steps with --set 'cluster.collectives=\"hierarchical_ring\"'");
    for (int n : gpus) {
      if (n < 8 || n % 8 != 0) throw spindle::InputError("--gpus: " + std::to_string(n) + "; allowed: multiples of 8");
      const auto out = spindle::run_in_children({[&] { return run_size(n, system, sets, net); }}, 1);
      std::istringstream in(out.front());
      double g = 0, cost = 0, plan = 0, place = 0, low = 0, sim = 0, mib = 0, flows = 0, events = 0, iter = 0, planned = 0,
             sim_cpu = 0;
      in >> g >> cost >> plan >> place >> low >> sim >> mib >> flows >> events >> iter >> planned >> sim_cpu;
      const double planning = cost + plan + place + low;
      std::string fine_ms = "-", fine_s = "-", error = "-";
      if (hierarchical && !ring_steps && n <= fine_up_to) {  // the same plan with every ring step its own flow
        const spindle::NetworkOptions fine{true};
        std::istringstream f(spindle::run_in_children({[&] { return run_size(n, system, sets, fine); }}, 1).front());
        double fg = 0, fc = 0, fp = 0, fpl = 0, fl = 0, fsim = 0, fmib = 0, ff = 0, fe = 0, fiter = 0;
        f >> fg >> fc >> fp >> fpl >> fl >> fsim >> fmib >> ff >> fe >> fiter;
        fine_ms = fixed(fiter * 1e3, 3);
        fine_s = fixed(fsim, 3);
        error = fixed(100 * (iter - fiter) / fiter, 2);
      }
      t.add_row({fixed(g, 0), fixed(cost, 3), fixed(plan, 3), fixed(place, 3), fixed(low, 3), fixed(planning, 3),
                 fixed(sim, 3), fixed(sim_cpu, 3), fixed(planning + sim, 3), fixed(mib, 0), fixed(flows, 0), fixed(events, 0),
                 fixed(events / std::max(sim, 1e-9), 0), fixed(iter * 1e3, 3), fixed(planned * 1e3, 3), fine_ms, fine_s, error});
      std::cerr << "  " << n << " GPUs: planning " << fixed(planning, 2) << " s, simulation " << fixed(sim, 2) << " s\n";
    }
    std::cout << "Plan (" << system << ") and simulate one iteration, multitask-clip-10 weak-scaled (batches x GPUs/32), "
              << "collectives " << spindle::collective_model_text(model.cluster, net) << "\n"
              << t.render()
              << "  planning = cost model + plan + place + lower (programs, their check, compute times); simulation: "
                 "SimGrid replay of one iteration, in its own process; peak: max RSS of that process\n"
                 "  fine (hierarchical ring only: --set 'cluster.collectives=\"hierarchical_ring\"'): the same plan "
                 "with every ring step of a collective its own flow (--ring-steps); error: (simulated - fine) / fine\n";
    return spindle::kExitOk;
  });
}
