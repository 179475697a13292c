// The planner's iteration estimate on hand-made programs whose answer is known in closed form:
// one bucket after a backward, two buckets overlapping the backward and each other, two
// groups whose all-reduces cross the same node link at once, a send overlapping compute, a send
// past the link's eager limit waiting for its receiver.
#include <gtest/gtest.h>

#include <utility>
#include <vector>

#include "planner/estimate/iteration_estimate.h"

namespace spindle::testing {
namespace {

constexpr double kBw = 100e9 * 0.5;  // NVLink bytes/s after efficiency
constexpr double kNic = 20e9 * 0.5;  // a node's network bytes/s after efficiency
constexpr double kLatIntra = 2e-6, kLatInter = 10e-6;

Cluster cluster(int nodes, int gpus_per_node) {
  Cluster c;
  c.nodes = nodes;
  c.gpus_per_node = gpus_per_node;
  c.intra_node = Link{100.0, 2.0, 0.5};
  c.inter_node = Link{20.0, 10.0, 0.5};
  return c;
}

Instr compute(InstrKind k) {
  Instr in;
  in.kind = k;
  return in;
}

Instr sync(InstrKind k, int id, std::vector<int> group, std::int64_t bytes) {
  Instr in;
  in.kind = k;
  in.collective = id;
  in.group = group;
  in.bytes = bytes;
  return in;
}

// Programs where every device runs `code` (compute seconds in `secs`, 0 for the rest).
struct Case {
  Programs programs;
  std::vector<std::vector<double>> seconds;
  void device(int d, std::vector<std::pair<Instr, double>> code) {
    if (static_cast<int>(programs.devices.size()) <= d) {
      programs.devices.resize(static_cast<size_t>(d) + 1);
      seconds.resize(static_cast<size_t>(d) + 1);
    }
    programs.devices[static_cast<size_t>(d)].device = d;
    for (auto& [in, s] : code) {
      programs.devices[static_cast<size_t>(d)].instrs.push_back(in);
      seconds[static_cast<size_t>(d)].push_back(s);
    }
  }
};

TEST(Estimate, OneBucketAfterTheBackward) {
  // 2 GPUs in one node: 1 ms of backward, then a ring all-reduce of 8 MB: a reduce-scatter and
  // an all-gather, each one ring step of 4 MB per GPU at NVLink speed after the NVLink latency.
  const std::int64_t bytes = 8'000'000;
  Case c;
  c.programs.collectives = 1;
  for (int d : {0, 1})
    c.device(d, {{compute(InstrKind::kBackward), 1e-3},
                 {sync(InstrKind::kSyncStart, 0, {0, 1}, bytes), 0},
                 {sync(InstrKind::kSyncWait, 0, {0, 1}, bytes), 0},
                 {compute(InstrKind::kStep), 0}});
  const IterationEstimate e = estimate_iteration(c.programs, c.seconds, cluster(1, 2));
  const double phase = kLatIntra + (bytes / 2.0) / kBw;
  EXPECT_NEAR(e.iteration_s, 1e-3 + 2 * phase, 1e-12);
  EXPECT_NEAR(e.sync_s, 2 * phase, 1e-12);
  EXPECT_NEAR(e.compute_s, 1e-3, 1e-12);
}

TEST(Estimate, TwoBucketsOverlapTheBackwardAndRunInOrder) {
  // 2 GPUs, 40 MB buckets: an all-reduce alone takes 2 x (2 us + 20 MB / 50 GB/s) = 0.804 ms.
  // With 1 ms of backward after bucket 0 starts, bucket 0 is done at 1.804 ms and bucket 1
  // runs alone from 2 ms.
  const std::int64_t bytes = 40'000'000;
  const double alone = 2 * (kLatIntra + (bytes / 2.0) / kBw);
  Case c;
  c.programs.collectives = 2;
  for (int d : {0, 1})
    c.device(d, {{compute(InstrKind::kBackward), 1e-3},
                 {sync(InstrKind::kSyncStart, 0, {0, 1}, bytes), 0},
                 {compute(InstrKind::kBackward), 1e-3},
                 {sync(InstrKind::kSyncStart, 1, {0, 1}, bytes), 0},
                 {sync(InstrKind::kSyncWait, 0, {0, 1}, bytes), 0},
                 {sync(InstrKind::kSyncWait, 1, {0, 1}, bytes), 0}});
  IterationEstimate e = estimate_iteration(c.programs, c.seconds, cluster(1, 2));
  EXPECT_NEAR(e.iteration_s, 2e-3 + alone, 1e-12);
  // With 0.5 ms of second backward, bucket 1's members are all there at 1.5 ms while bucket 0
  // still moves: one group is one NCCL communicator, whose operations run in order, so bucket
  // 1 starts when bucket 0 is done (1.804 ms) and has the links alone.
  c.seconds[0][2] = c.seconds[1][2] = 0.5e-3;
  e = estimate_iteration(c.programs, c.seconds, cluster(1, 2));
  EXPECT_NEAR(e.iteration_s, 1e-3 + 2 * alone, 1e-12);
  EXPECT_NEAR(e.sync_s, 2 * alone - 0.5e-3, 1e-12);  // blocked from 1.5 ms to the end
}

TEST(Estimate, TwoGroupsCrossingOneNodeLinkShareIt) {
  // 2 nodes x 2 GPUs, one NIC per node. Group {0,2} and group {1,3} each all-reduce 10 MB
  // across the nodes: one ring between the nodes, each node sending B = 2 (m-1)/m x 10 MB
  // = 10 MB over its NIC, standing for 2 ring steps. Alone: 2 lat + B / NIC; together the two
  // rings share each NIC: 2 lat + 2 B / NIC.
  const std::int64_t bytes = 10'000'000;
  auto run = [&](bool both) {
    Case c;
    c.programs.collectives = 2;
    for (int d = 0; d < 4; ++d) {
      const int id = d % 2;
      const std::vector<int> group = {id, id + 2};
      if (!both && id == 1) {
        c.device(d, {{compute(InstrKind::kStep), 0}});
        continue;
      }
      c.device(d, {{sync(InstrKind::kSyncStart, id, group, bytes), 0}, {sync(InstrKind::kSyncWait, id, group, bytes), 0}});
    }
    return estimate_iteration(c.programs, c.seconds, cluster(2, 2)).iteration_s;
  };
  EXPECT_NEAR(run(false), 2 * kLatInter + bytes / kNic, 1e-12);
  EXPECT_NEAR(run(true), 2 * kLatInter + 2.0 * bytes / kNic, 1e-12);
}

// A 5 MB transfer of tensor 0 from GPU 0 to GPU 1: its send and its receive.
std::pair<Instr, Instr> transfer_0_to_1() {
  Instr send;
  send.kind = InstrKind::kSend;
  send.peer = 1;
  send.tensor = 0;
  send.bytes = 5'000'000;
  Instr recv = send;
  recv.kind = InstrKind::kRecv;
  recv.peer = 0;
  return {send, recv};
}

TEST(Estimate, ASendOverlapsComputeAndTheReceiverWaits) {
  // GPU 0 computes 1 ms, sends 5 MB to GPU 1 (same node) and computes 1 ms more; GPU 1
  // receives, then computes 1 ms. The send lands at 1 ms + lat + 5 MB / bw = 1.102 ms.
  Case c;
  c.programs.tensors = 1;
  const auto [send, recv] = transfer_0_to_1();
  c.device(0, {{compute(InstrKind::kForward), 1e-3}, {send, 0}, {compute(InstrKind::kForward), 1e-3}});
  c.device(1, {{recv, 0}, {compute(InstrKind::kForward), 1e-3}});
  const IterationEstimate e = estimate_iteration(c.programs, c.seconds, cluster(1, 2));
  const double arrival = 1e-3 + kLatIntra + 5e6 / kBw;
  EXPECT_NEAR(e.iteration_s, arrival + 1e-3, 1e-12);
  EXPECT_NEAR(e.transfer_s, (arrival - 1e-3) / 2, 1e-12);  // GPU 1 blocked from the post; mean of 2
}

// Past the link's eager limit (MPI's rendezvous on a CPU host) the data moves only once the
// receiver reaches its receive: GPU 1 computes 2 ms first, so the 5 MB leave at 2 ms and land at
// 2.102 ms, and GPU 1 ends at 3.102 ms; at or under the limit (and without one) they land at
// 1.102 ms, while GPU 1 still computes, and it ends at 3 ms.
TEST(Estimate, PastTheEagerLimitASendWaitsForItsReceiver) {
  Case c;
  c.programs.tensors = 1;
  const auto [send, recv] = transfer_0_to_1();
  c.device(0, {{compute(InstrKind::kForward), 1e-3}, {send, 0}, {compute(InstrKind::kForward), 1e-3}});
  c.device(1, {{compute(InstrKind::kForward), 2e-3}, {recv, 0}, {compute(InstrKind::kForward), 1e-3}});
  const double transfer = kLatIntra + 5e6 / kBw;
  Cluster eager = cluster(1, 2);
  EXPECT_NEAR(estimate_iteration(c.programs, c.seconds, eager).iteration_s, 3e-3, 1e-12);
  eager.intra_node.eager_limit_B = 5'000'000;
  EXPECT_NEAR(estimate_iteration(c.programs, c.seconds, eager).iteration_s, 3e-3, 1e-12);
  Cluster rendezvous = cluster(1, 2);
  rendezvous.intra_node.eager_limit_B = 4096;
  const IterationEstimate e = estimate_iteration(c.programs, c.seconds, rendezvous);
  EXPECT_NEAR(e.iteration_s, 2e-3 + transfer + 1e-3, 1e-12);
  EXPECT_NEAR(e.transfer_s, transfer / 2, 1e-12);  // GPU 1 blocked for the whole move; mean of 2
  // The other way round (the receiver first), it moves when sent: no change.
  Case r;
  r.programs.tensors = 1;
  r.device(0, {{compute(InstrKind::kForward), 2e-3}, {send, 0}});
  r.device(1, {{recv, 0}, {compute(InstrKind::kForward), 1e-3}});
  EXPECT_NEAR(estimate_iteration(r.programs, r.seconds, rendezvous).iteration_s, 2e-3 + transfer + 1e-3, 1e-12);
}

}  // namespace
}  // namespace spindle::testing
