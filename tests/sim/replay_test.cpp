// Replaying lowered programs on the simulated cluster: every zoo scenario's programs finish for
// every system, no GPU's iteration is shorter than its compute, time splits add up, a compute
// instruction takes its cost-model time, adding one send to a program changes the result, and a
// send past its link's eager limit or with a measured send_recv moves as the planner's estimate
// moves it.
#include <gtest/gtest.h>

#include <algorithm>

#include "../planner/test_scenarios.h"
#include "planner/pipeline.h"
#include "planner/place/placement.h"
#include "planner/schedule/systems.h"
#include "planner/program/instr_time.h"
#include "planner/cost/collective_table.h"
#include "planner/estimate/iteration_estimate.h"
#include "sim/replay/simulation.h"
#include "sim/report/sim_report.h"

namespace spindle {
namespace {

TEST(Replay, EveryZooPlanFinishesAndIsNeverFasterThanItsCompute) {
  for (const std::string& file : testing::zoo_files()) {
    SCOPED_TRACE(file);
    const ScenarioModel m(load_scenario(file));
    const std::vector<PlannedSystem> planned = plan_systems(m, system_names());
    std::vector<Programs> programs;
    for (const PlannedSystem& ps : planned) programs.push_back(lower_checked(m, ps.plan));
    const std::vector<ReplayResult> sims = simulate(m, programs, {});
    ASSERT_EQ(sims.size(), planned.size());
    for (size_t i = 0; i < sims.size(); ++i) {
      SCOPED_TRACE(planned[i].plan.system);
      const ReplayResult& r = sims[i];
      const auto secs = compute_seconds(programs[i], m.s, m.mg, m.cost);
      ASSERT_EQ(r.devices.size(), static_cast<size_t>(m.s.cluster.gpus()));
      for (size_t d = 0; d < r.devices.size(); ++d) {
        double want = 0;
        for (size_t k = 0; k < secs[d].size(); ++k) {  // compute: forward and backward (a copy is transfer, the step sync)
          const InstrKind kind = programs[i].devices[d].instrs[k].kind;
          if (kind == InstrKind::kForward || kind == InstrKind::kBackward) want += secs[d][k];
        }
        EXPECT_NEAR(r.devices[d].compute_s(), want, 1e-9 + 1e-6 * want) << "device " << d;
        EXPECT_GE(r.iteration_s, r.devices[d].compute_s() - 1e-12);
        EXPECT_LE(r.devices[d].end_s, r.iteration_s + 1e-12);
        EXPECT_GE(r.idle_s(static_cast<int>(d)), -1e-9);
      }
      const SimSummary sum = summarize(r);
      EXPECT_NEAR(sum.compute_s + sum.transfer_s + sum.sync_s + sum.idle_s, sum.simulated_s, 1e-9);
    }
  }
}

TEST(Replay, ComputeTakesTheCostModelTimeAtTheSlicesDeviceCount) {
  ScenarioModel pipe(load_scenario(default_data_dir() / "multitask-clip-4.toml"));
  const Scenario& s = pipe.s;
  const Graph& g = pipe.g;
  const MetaGraph& mg = pipe.mg;
  const CostModel& cost = pipe.cost;
  Plan p = plan_system("sequential", s, mg, cost);
  place(p, s, g, mg, PlacementPolicy::kSpindle);
  const Programs progs = lower(p, s, g, mg);
  const auto secs = compute_seconds(progs, s, mg, cost);
  const Slice& sl = p.waves.front().slices.front();
  const Instr* fwd = nullptr;
  size_t at = 0;
  const auto& code = progs.devices[static_cast<size_t>(sl.devices.front())].instrs;
  for (size_t k = 0; k < code.size() && fwd == nullptr; ++k)
    if (code[k].kind == InstrKind::kForward && code[k].metaop == sl.metaop) fwd = &code[at = k];
  ASSERT_NE(fwd, nullptr);
  double fwd_s = 0;
  for (const CurvePoint& cp : cost.metaop(sl.metaop).curve.points())
    if (cp.n == sl.n) fwd_s = cp.fwd_s;
  EXPECT_DOUBLE_EQ(secs[static_cast<size_t>(sl.devices.front())][at], sl.layers() * fwd_s);
}

TEST(Replay, AddingOneSendChangesTheSimulatedTime) {
  ScenarioModel pipe(load_scenario(default_data_dir() / "multitask-clip-4.toml"));
  const Scenario& s = pipe.s;
  const Graph& g = pipe.g;
  const MetaGraph& mg = pipe.mg;
  const CostModel& cost = pipe.cost;
  Plan p = plan_system("spindle", s, mg, cost);
  place(p, s, g, mg, PlacementPolicy::kSpindle);
  const Programs base = lower(p, s, g, mg);
  Programs more = base;
  Instr send;
  send.kind = InstrKind::kSend;
  send.peer = 9;
  send.tensor = more.tensors++;
  send.bytes = 200'000'000;
  Instr recv = send;
  recv.kind = InstrKind::kRecv;
  recv.peer = 0;
  recv.for_metaop = -1;
  auto& code0 = more.devices[0].instrs;
  code0.insert(code0.end() - 1, send);  // before the optimizer step
  auto& code9 = more.devices[9].instrs;
  code9.insert(code9.end() - 1, recv);
  ASSERT_EQ(replay(more), "");
  const auto secs = compute_seconds(base, s, mg, cost);
  const auto secs_more = compute_seconds(more, s, mg, cost);
  const auto r = simulate_programs(s.cluster, {base, more}, {secs, secs_more}, {});
  EXPECT_GT(r[1].iteration_s, r[0].iteration_s);
  EXPECT_EQ(r[1].transfers.size(), r[0].transfers.size() + 1);
}

// GPU 0 computes 1 ms and sends 5 MB to GPU 1, which computes 2 ms before receiving it: past
// the eager limit the data leaves at 2 ms (the receive), else at 1 ms; with a measured send_recv
// it takes the measured 1.05 ms (GPU 1 waits for it until 2.05 ms). The simulator and the estimate agree (SimGrid's flows against
// the fluid model: within 1%).
TEST(Replay, RendezvousAndMeasuredTransfersMoveAsTheEstimate) {
  Programs programs;
  programs.tensors = 1;
  Instr fwd, send, recv;
  fwd.kind = InstrKind::kForward;
  send.kind = InstrKind::kSend;
  send.peer = 1, send.tensor = 0, send.bytes = 5'000'000;
  recv = send;
  recv.kind = InstrKind::kRecv;
  recv.peer = 0;
  programs.devices.resize(2);
  programs.devices[0] = {0, {fwd, send}};
  programs.devices[1] = {1, {fwd, recv, fwd}};
  const std::vector<std::vector<double>> seconds{{1e-3, 0}, {2e-3, 0, 1e-3}};
  Cluster c;
  c.nodes = 1;
  c.gpus_per_node = 2;
  c.intra_node = Link{100.0, 2.0, 0.5};
  c.inter_node = Link{20.0, 10.0, 0.5};
  Profile p;
  CollectiveMeasurement m;
  m.kind = "send_recv", m.ranks = 2, m.nodes = 1, m.ranks_per_node = 2, m.samples = 5;
  m.bytes = 8, m.time_ms = 0.050;
  p.collectives.push_back(m);
  m.bytes = 5'000'000, m.time_ms = 1.050;
  p.collectives.push_back(m);
  Cluster rendezvous = c, measured = c;
  rendezvous.intra_node.eager_limit_B = 4096;
  measured.measured_collectives = std::make_shared<const CollectiveTable>(p);
  const double transfer = 2e-6 + 5e6 / 50e9;
  const std::vector<std::pair<Cluster, double>> cases{
      {c, 3e-3}, {rendezvous, 3e-3 + transfer}, {measured, 1e-3 + 1.05e-3 + 1e-3}};
  for (const auto& [cluster, expected] : cases) {
    const double simulated = simulate_programs(cluster, {programs}, {seconds}, {}).front().iteration_s;
    const double estimated = estimate_iteration(programs, seconds, cluster).iteration_s;
    EXPECT_NEAR(estimated, expected, 1e-12);
    EXPECT_NEAR(simulated, estimated, 0.01 * estimated);
  }
}

}  // namespace
}  // namespace spindle
