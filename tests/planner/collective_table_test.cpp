// Measured collectives (a profile's /collectives): the table's interpolation and choice of
// curve, and the planner's estimate taking a measured time instead of the model's where the
// profile holds the group's shape (and the model's where it does not); point-to-point transfers
// from the measured send_recv of the pair's shape.
#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <vector>

#include "planner/cost/collective_flows.h"
#include "planner/cost/collective_table.h"
#include "planner/estimate/iteration_estimate.h"
#include "traces/errors.h"

namespace spindle::testing {
namespace {

CollectiveMeasurement row(const char* kind, int ranks, int nodes, int per_node, std::int64_t bytes, double ms,
                          const char* algorithm = "") {
  CollectiveMeasurement m;
  m.kind = kind, m.algorithm = algorithm;
  m.ranks = ranks, m.nodes = nodes, m.ranks_per_node = per_node;
  m.bytes = bytes, m.time_ms = ms, m.samples = 5;
  return m;
}

TEST(CollectiveTable, InterpolatesBySizeOnTheSameShapeOnly) {
  Profile p;
  p.collectives = {row("all_reduce", 8, 1, 8, 1 << 20, 0.030), row("all_reduce", 8, 1, 8, 1 << 10, 0.010),
                   row("all_reduce", 8, 1, 8, 1 << 30, 10.0)};
  const CollectiveTable t(p);
  auto at = [&](double bytes) { return t.lookup(Collective::kAllReduce, 8, 1, 8, bytes)->time_s; };
  EXPECT_DOUBLE_EQ(at(1 << 10), 10e-6);                   // measured
  EXPECT_DOUBLE_EQ(at(1 << 20), 30e-6);                   // measured, whatever the rows' order
  EXPECT_DOUBLE_EQ(at(8), 10e-6);                         // below the smallest: its time
  const double mid = (double(1 << 20) + double(1 << 30)) / 2;  // halfway: halfway in time
  EXPECT_DOUBLE_EQ(at(mid), (30e-6 + 10e-3) / 2);
  EXPECT_DOUBLE_EQ(at(double(1 << 30) * 4), 40e-3);       // above the largest: its bandwidth
  EXPECT_DOUBLE_EQ(t.lookup(Collective::kAllReduce, 8, 1, 8, 1 << 20)->floor_s, 10e-6);
  // Another collective, rank count, node count or spread across nodes is not measured.
  EXPECT_FALSE(t.lookup(Collective::kAllGather, 8, 1, 8, 1 << 20));
  EXPECT_FALSE(t.lookup(Collective::kAllReduce, 4, 1, 4, 1 << 20));
  EXPECT_FALSE(t.lookup(Collective::kAllReduce, 8, 2, 4, 1 << 20));
  EXPECT_FALSE(t.lookup(Collective::kAllReduce, 8, 2, 7, 1 << 20));
}

TEST(CollectiveTable, NcclsChoiceWinsAndForcedAlgorithmsGiveTheFastest) {
  Profile p;
  p.collectives = {row("all_reduce", 16, 2, 8, 1 << 10, 0.05, "ring"), row("all_reduce", 16, 2, 8, 1 << 30, 8.0, "ring"),
                   row("all_reduce", 16, 2, 8, 1 << 10, 0.02, "tree"), row("all_reduce", 16, 2, 8, 1 << 30, 12.0, "tree")};
  {
    const CollectiveTable forced(p);
    const auto small = forced.lookup(Collective::kAllReduce, 16, 2, 8, 1 << 10);
    EXPECT_EQ(small->algorithm, "tree");
    EXPECT_DOUBLE_EQ(small->time_s, 20e-6);
    const auto large = forced.lookup(Collective::kAllReduce, 16, 2, 8, 1 << 30);
    EXPECT_EQ(large->algorithm, "ring");
    EXPECT_DOUBLE_EQ(large->time_s, 8e-3);
  }
  p.collectives.push_back(row("all_reduce", 16, 2, 8, 1 << 30, 9.0));
  const CollectiveTable chosen(p);
  EXPECT_EQ(chosen.lookup(Collective::kAllReduce, 16, 2, 8, 1 << 30)->algorithm, "");
  EXPECT_DOUBLE_EQ(chosen.lookup(Collective::kAllReduce, 16, 2, 8, 1 << 30)->time_s, 9e-3);
}

TEST(CollectiveTable, AProfileOfAnotherGpuIsRefused) {
  Scenario s;
  s.file = "s.toml";
  s.cluster.gpu.name = "H100-SXM";
  s.cluster.gpu.id = "h100-sxm";
  s.cluster.gpu.reported_names = {"NVIDIA H100 80GB HBM3", "H100-SXM"};
  Profile p;
  p.source = "a100.h5";
  p.backend = "cuda";
  p.device = "NVIDIA A100-SXM4-80GB";
  p.collectives = {row("all_reduce", 2, 1, 2, 1024, 0.01)};
  try {
    use_measured_collectives(s, p);
    FAIL() << "accepted";
  } catch (const InputError& e) {
    EXPECT_STREQ(e.what(), "a100.h5: profile measured on 'NVIDIA A100-SXM4-80GB' (backend cuda) but s.toml runs on "
                           "H100-SXM (h100-sxm.toml: backend cuda, bf16, reported as 'NVIDIA H100 80GB HBM3', "
                           "'H100-SXM'); allowed: a profile of a device the device file's reported_names list");
  }
  p.device = "NVIDIA H100 80GB HBM3";
  use_measured_collectives(s, p);
  ASSERT_TRUE(s.cluster.measured_collectives);
}

Instr step(InstrKind k, std::vector<int> group = {}, std::int64_t bytes = 0) {
  Instr in;
  in.kind = k;
  if (!group.empty()) in.collective = 0, in.group = std::move(group), in.bytes = bytes;
  return in;
}

// 1 ms of backward, then an 8 MB all-reduce of the two GPUs of one node: measured at 0.5 ms
// (its latency floor 20 us at 1 KiB), the iteration takes 1.5 ms, not the model's ~1.16 ms; a
// group the profile does not hold (all four GPUs) keeps the model's time.
TEST(CollectiveTable, TheEstimateTakesTheMeasuredTime) {
  const std::int64_t bytes = 8'000'000;
  auto iteration = [&](const std::vector<int>& group, const Cluster& c) {
    Programs programs;
    programs.collectives = 1;
    std::vector<std::vector<double>> seconds;
    for (int d : group) {
      DeviceProgram dp;
      dp.device = d;
      dp.instrs = {step(InstrKind::kBackward), step(InstrKind::kSyncStart, group, bytes),
                   step(InstrKind::kSyncWait, group, bytes), step(InstrKind::kStep)};
      programs.devices.resize(static_cast<size_t>(d) + 1);
      programs.devices[static_cast<size_t>(d)] = dp;
      seconds.resize(static_cast<size_t>(d) + 1);
      seconds[static_cast<size_t>(d)] = {1e-3, 0, 0, 0};
    }
    return estimate_iteration(programs, seconds, c).iteration_s;
  };
  auto node = [](int gpus, const Profile* p) {
    Cluster c;
    c.nodes = 1;
    c.gpus_per_node = gpus;
    c.intra_node = Link{100.0, 2.0, 0.5};
    c.inter_node = Link{20.0, 10.0, 0.5};
    if (p) c.measured_collectives = std::make_shared<const CollectiveTable>(*p);
    return c;
  };
  Profile p;
  p.collectives = {row("all_reduce", 2, 1, 2, 1024, 0.020), row("all_reduce", 2, 1, 2, 8'000'000, 0.500)};
  EXPECT_LT(iteration({0, 1}, node(2, nullptr)), 1.2e-3);
  EXPECT_NEAR(iteration({0, 1}, node(2, &p)), 1.5e-3, 1e-9);
  EXPECT_NEAR(nccl_collective_s(Collective::kAllReduce, {0, 1}, bytes, node(2, &p)), 0.5e-3, 1e-12);
  EXPECT_DOUBLE_EQ(iteration({0, 1, 2, 3}, node(4, &p)), iteration({0, 1, 2, 3}, node(4, nullptr)));
}

// A 5 MB transfer between the two GPUs of one node: with send_recv measured on that shape
// (50 us at 8 B, its floor; 1.05 ms at 5 MB), it lands 1.05 ms after it is sent, not after the
// links' 2 us + 5 MB / 50 GB/s = 0.102 ms; between two nodes (a shape not measured) the links decide.
TEST(CollectiveTable, TransfersTakeTheMeasuredSendRecv) {
  Profile p;
  p.collectives = {row("send_recv", 2, 1, 2, 8, 0.050), row("send_recv", 2, 1, 2, 5'000'000, 1.050)};
  Cluster c;
  c.nodes = 2;
  c.gpus_per_node = 2;
  c.intra_node = Link{100.0, 2.0, 0.5};
  c.inter_node = Link{20.0, 10.0, 0.5};
  c.measured_collectives = std::make_shared<const CollectiveTable>(p);
  const std::optional<PointToPoint> m = measured_point_to_point(1, 0, 5e6, c);
  ASSERT_TRUE(m.has_value());
  EXPECT_NEAR(m->latency_s, 50e-6, 1e-15);
  EXPECT_NEAR(m->max_Bps, 5e6 / 1e-3, 1e-3);
  EXPECT_FALSE(measured_point_to_point(0, 2, 5e6, c).has_value());  // two nodes: not measured
  auto iteration = [&](int peer) {
    Programs programs;
    programs.tensors = 1;
    Instr send;
    send.kind = InstrKind::kSend;
    send.peer = peer;
    send.tensor = 0;
    send.bytes = 5'000'000;
    Instr recv = send;
    recv.kind = InstrKind::kRecv;
    recv.peer = 0;
    programs.devices.resize(4);  // every GPU of the cluster; those not named have empty programs
    for (int d = 0; d < 4; ++d) programs.devices[static_cast<size_t>(d)].device = d;
    programs.devices[0].instrs = {send};
    programs.devices[static_cast<size_t>(peer)].instrs = {recv};
    std::vector<std::vector<double>> seconds(programs.devices.size());
    for (size_t d = 0; d < seconds.size(); ++d) seconds[d].assign(programs.devices[d].instrs.size(), 0.0);
    return estimate_iteration(programs, seconds, c).iteration_s;
  };
  EXPECT_NEAR(iteration(1), 1.05e-3, 1e-12);
  EXPECT_NEAR(iteration(2), 10e-6 + 5e6 / 10e9, 1e-9);  // the network: 10 us + 5 MB at 10 GB/s
}

}  // namespace
}  // namespace spindle::testing
