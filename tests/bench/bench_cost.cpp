// Times the scalability estimator on the 10-task model scaled to 1,024 GPUs: every task's
// batch x64 so that valid device counts run from 1 to 1,024. Prints sampling + fitting time
// (goal: under 50 ms) and the cost of T(n) queries, which the allocator makes by the thousand.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "bench_timing.h"
#include "planner/config/scenario.h"
#include "planner/cost/cost_model.h"
#include "planner/graph/graph_builder.h"
#include "planner/graph/metagraph.h"

namespace {

using namespace spindle;
using bench::median_ms;

}  // namespace

int main() {
  LoadOptions opt;
  opt.overrides = {"cluster.nodes=128"};
  Scenario base = load_scenario(default_data_dir() / "multitask-clip-10.toml", opt);
  for (size_t t = 0; t < base.tasks.size(); ++t)
    opt.overrides.push_back("tasks." + std::to_string(t) + ".batch=" + std::to_string(base.tasks[t].batch * 64));
  Scenario s = load_scenario(default_data_dir() / "multitask-clip-10.toml", opt);
  Graph g = build_graph(s);
  MetaGraph mg = contract(g);

  size_t points = 0;
  int max_n = 0;
  const double fit_ms = median_ms(9, [&] {
    CostModel cost(s, g, mg);
    points = 0;
    for (const MetaOpCost& c : cost.metaops()) {
      points += c.curve.points().size();
      max_n = std::max(max_n, c.curve.max_n());
    }
  });
  CostModel cost(s, g, mg);
  const int queries_per_metaop = 10000;
  double sink = 0;
  const double query_ms = median_ms(5, [&] {
    for (const MetaOpCost& c : cost.metaops())
      for (int i = 1; i <= queries_per_metaop; ++i) sink += c.curve.time_s(0.5 + i * 0.1024);
  });
  const double queries = static_cast<double>(queries_per_metaop) * static_cast<double>(cost.metaops().size());
  std::printf("Scalability estimator, multitask-clip-10 on %d GPUs, batches x64 (median of 9 runs)\n",
              s.cluster.gpus());
  std::printf("  MetaOps                     %zu\n", mg.metaops.size());
  std::printf("  sampled points (valid n)    %zu, n up to %d\n", points, max_n);
  std::printf("  sample + fit, all MetaOps   %.2f ms   (goal: under 50 ms)\n", fit_ms);
  std::printf("  T(n) query                  %.1f ns each (%.0f queries in %.2f ms)\n", query_ms * 1e6 / queries,
              queries, query_ms);
  return sink > 0 ? 0 : 1;
}
