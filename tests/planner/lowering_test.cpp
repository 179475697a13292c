// Lowering: for every zoo scenario and every system, the per-device programs replay to the
// end (every receive meets its send with equal bytes, collectives meet all members), every
// slice's forward and backward run on each of its devices, and weight sync covers exactly the
// layers that run on more than one device.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "planner/graph/graph_builder.h"
#include "planner/graph/param_count.h"
#include "planner/place/placement.h"
#include "planner/program/lowering.h"
#include "planner/schedule/systems.h"
#include "test_scenarios.h"

namespace spindle::testing {
namespace {

TEST(Lowering, SyncBytesMatchTheWeightsOfSharedLayers) {
  ScenarioModel pipe(load_scenario(default_data_dir() / "multitask-clip-4.toml"));
  // Named, not bound: clang 14 lets no lambda capture a structured binding.
  [[maybe_unused]] Scenario& s = pipe.s;
  [[maybe_unused]] Graph& g = pipe.g;
  [[maybe_unused]] MetaGraph& mg = pipe.mg;
  [[maybe_unused]] CostModel& cost = pipe.cost;
  Plan p = plan_system("spindle", s, mg, cost);
  place(p, s, g, mg, PlacementPolicy::kSpindle);
  Programs progs = lower(p, s, g, mg);
  // The sum over buckets of their bytes = the reduced bytes per gradient (fp32: 4) x params of
  // every layer on more than one device.
  std::map<std::string, std::set<int>> devices;
  std::map<std::string, std::int64_t> params;
  for (const Wave& w : p.waves)
    for (const Slice& sl : w.slices)
      for (int l = sl.first_layer; l < sl.last_layer; ++l) {
        const Operator& op = g.op(mg.metaops[static_cast<size_t>(sl.metaop)].ops[static_cast<size_t>(l)]);
        if (op.weights.empty()) continue;
        devices[op.weights].insert(sl.devices.begin(), sl.devices.end());
        params[op.weights] = op.cost.params;
      }
  std::int64_t want = 0;
  for (const auto& [w, d] : devices)
    if (d.size() > 1) want += p.sync.grad_bytes * params[w];
  std::map<int, std::int64_t> bucket_bytes;
  for (const DeviceProgram& dp : progs.devices)
    for (const Instr& in : dp.instrs)
      if (in.kind == InstrKind::kSyncStart) bucket_bytes[in.collective] = in.bytes;
  std::int64_t got = 0;
  for (auto [c, b] : bucket_bytes) got += b;
  EXPECT_EQ(got, want);
}

TEST(Lowering, BucketsFollowTheSyncPolicy) {
  // sequential on clip-4 at 32 GPUs: every shared weight group is synced over the whole
  // cluster. Without a cap there is one bucket per device group; with a cap of 10M
  // parameters each bucket closes at the first weight that reaches the cap, so every bucket
  // but each group's last holds >= 10M and < 10M + its largest weight group.
  ScenarioModel pipe(load_scenario(default_data_dir() / "multitask-clip-4.toml"));
  const Scenario& s = pipe.s;  // named, not bound: clang 14 lets no lambda capture a binding
  const Graph& g = pipe.g;
  const MetaGraph& mg = pipe.mg;
  const CostModel& cost = pipe.cost;
  Plan p = plan_system("sequential", s, mg, cost);
  place(p, s, g, mg, PlacementPolicy::kSpindle);
  std::int64_t largest = 0;
  for (const Operator& op : g.ops()) largest = std::max(largest, op.cost.params);
  auto buckets = [&](const SyncPolicy& policy) {
    p.sync = policy;
    std::map<int, std::pair<std::vector<int>, std::int64_t>> out;  // collective -> (group, params)
    for (const DeviceProgram& dp : lower(p, s, g, mg).devices)
      for (const Instr& in : dp.instrs)
        if (in.kind == InstrKind::kSyncStart)
          out[in.collective] = {std::vector<int>(in.group.begin(), in.group.end()), in.bytes / policy.grad_bytes};
    return out;
  };
  const auto whole = buckets(SyncPolicy{"none", 0, 0, 0, 4});
  std::set<std::vector<int>> groups;
  std::int64_t total = 0;
  for (const auto& [c, b] : whole) {
    EXPECT_TRUE(groups.insert(b.first).second) << "two buckets for one device group without a cap";
    total += b.second;
  }
  const std::int64_t cap = 10'000'000;
  const auto capped = buckets(SyncPolicy{"cap", cap, 0, 0, 2});
  EXPECT_GT(capped.size(), whole.size());
  std::int64_t capped_total = 0;
  std::map<std::vector<int>, int> per_group;
  for (const auto& [c, b] : capped) {
    capped_total += b.second;
    ++per_group[b.first];
    EXPECT_LT(b.second, cap + largest);
  }
  EXPECT_EQ(capped_total, total);
  int below = 0;
  for (const auto& [c, b] : capped) below += b.second < cap;
  EXPECT_LE(below, static_cast<int>(per_group.size()));  // only a group's last bucket may be short
  // PyTorch DDP's smaller first bucket: the earliest bucket of a group closes at 1M.
  const auto ddp = buckets(SyncPolicy{"ddp", cap, 0, 1'000'000, 4});
  EXPECT_GT(ddp.size(), capped.size() - 1);
  EXPECT_LT(ddp.begin()->second.second, 1'000'000 + largest);
}

TEST(Lowering, ReplayFindsAMissingSend) {
  Programs progs;
  progs.devices.resize(2);
  progs.devices[0].device = 0;
  progs.devices[1].device = 1;
  Instr recv;
  recv.kind = InstrKind::kRecv;
  recv.peer = 0;
  recv.tensor = 7;
  recv.bytes = 10;
  progs.devices[1].instrs.push_back(recv);
  EXPECT_EQ(replay(progs), "deadlock: device 1 waits at instruction 0 (recv tensor 7)");
  Instr send = recv;
  send.kind = InstrKind::kSend;
  send.peer = 1;
  send.bytes = 12;
  progs.devices[0].instrs.push_back(send);
  EXPECT_EQ(replay(progs), "device 1 receives tensor 7 of 10 B from 0, sent by 0 to 1 with 12 B");
}

TEST(Lowering, ReplayRejectsWhatARealEngineCouldNotRun) {
  Programs progs;
  progs.devices.resize(2);
  for (int d = 0; d < 2; ++d) progs.devices[static_cast<size_t>(d)].device = d;
  // Data arriving after the compute that needs it.
  Instr fwd;
  fwd.kind = InstrKind::kForward;
  fwd.metaop = 3;
  fwd.first_layer = 0;
  Instr copy;
  copy.kind = InstrKind::kCopy;
  copy.tensor = 1;
  copy.for_metaop = 3;
  copy.for_first_layer = 0;
  progs.devices[0].instrs = {fwd, copy};
  EXPECT_EQ(replay(progs), "device 0: tensor 1 arrives after the compute that needs it");
  // Two ranks issuing two collectives in opposite orders.
  Instr a;
  a.kind = InstrKind::kGather;
  a.group = {0, 1};
  a.collective = 0;
  Instr b = a;
  b.collective = 1;
  progs.devices[0].instrs = {a, b};
  progs.devices[1].instrs = {b, a};
  EXPECT_EQ(replay(progs), "device 1 issues collective 0 after 1: ranks would disagree on the order");
  // A device outside a collective's group.
  Instr c = a;
  c.group = {1};
  progs.devices[0].instrs = {c};
  progs.devices[1].instrs = {};
  EXPECT_EQ(replay(progs), "device 0 is not a member of collective 0");
}

TEST(Lowering, ZeroOneProgramsReplay) {
  ScenarioModel pipe(load_scenario(default_data_dir() / "ofasys-7.toml", LoadOptions{{"planner.zero1=true"}, {}}));
  // Named, not bound: clang 14 lets no lambda capture a structured binding.
  [[maybe_unused]] Scenario& s = pipe.s;
  [[maybe_unused]] Graph& g = pipe.g;
  [[maybe_unused]] MetaGraph& mg = pipe.mg;
  [[maybe_unused]] CostModel& cost = pipe.cost;
  Plan p = plan_system("spindle", s, mg, cost);
  place(p, s, g, mg, PlacementPolicy::kSpindle);
  Programs progs = lower(p, s, g, mg);
  EXPECT_EQ(replay(progs), "");
  int param_gathers = 0;
  for (const DeviceProgram& dp : progs.devices) {
    bool stepped = false;
    for (const Instr& in : dp.instrs) {
      if (in.kind == InstrKind::kStep) stepped = true;
      if (in.kind == InstrKind::kParamGather) {
        ++param_gathers;
        EXPECT_TRUE(stepped) << "updated shards are gathered before the optimizer step";
      }
    }
  }
  EXPECT_GT(param_gathers, 0);
}

// A plan read from a file keeps the starts it was written with as lowering's order (order_s),
// whatever its reader's cost model re-times: spindle-sim --plan with a profile and spindle-run
// --plan without one run the same programs. Here every start is re-timed in reverse; the
// programs stay those of the plan as made.
TEST(Lowering, OrdersByTheStartsAPlanWasWrittenWith) {
  ScenarioModel pipe(load_scenario(default_data_dir() / "multitask-clip-4.toml"));
  Plan p = plan_system("spindle", pipe.s, pipe.mg, pipe.cost);
  place(p, pipe.s, pipe.g, pipe.mg, PlacementPolicy::kSpindle);
  const std::string made = programs_fingerprint(lower(p, pipe.s, pipe.g, pipe.mg), pipe.s, pipe.mg);
  Plan q = p;
  double last = 0;
  for (const Wave& w : q.waves)
    for (const Slice& sl : w.slices) last = std::max(last, sl.end_s);
  for (Wave& w : q.waves)
    for (Slice& sl : w.slices) {
      sl.order_s = sl.start_s;
      const double len = sl.end_s - sl.start_s;
      sl.start_s = last - sl.end_s;  // the reverse order
      sl.end_s = sl.start_s + len;
    }
  EXPECT_EQ(programs_fingerprint(lower(q, pipe.s, pipe.g, pipe.mg), pipe.s, pipe.mg), made);
  for (Wave& w : q.waves)
    for (Slice& sl : w.slices) sl.order_s = -1;  // ordered by the re-timed starts: other programs
  EXPECT_NE(programs_fingerprint(lower(q, pipe.s, pipe.g, pipe.mg), pipe.s, pipe.mg), made);
}

// Transfers and gathers count the device's activation bytes per element: 2 on a bf16 GPU, 4 on
// the fp32 CPU core (the engine's CPU backend moves fp32).
TEST(Lowering, TransfersCountTheDevicesActivationBytes) {
  for (const auto& [file, element] :
       std::vector<std::pair<std::string, int>>{{"multitask-clip-4.toml", 2}, {"clusters/cpu-host-2core.toml", 4}}) {
    ScenarioModel pipe(load_scenario(default_data_dir() / file));
    Plan p = plan_system("spindle", pipe.s, pipe.mg, pipe.cost);
    place(p, pipe.s, pipe.g, pipe.mg, PlacementPolicy::kSpindle);
    const Programs progs = lower(p, pipe.s, pipe.g, pipe.mg);
    EXPECT_EQ(progs.activation_bytes, element) << file;
    int checked = 0;
    for (const DeviceProgram& dp : progs.devices) {
      EXPECT_EQ(dp.activation_bytes, element) << file;
      for (const Instr& in : dp.instrs) {
        if (in.kind != InstrKind::kSend && in.kind != InstrKind::kRecv && in.kind != InstrKind::kCopy) continue;
        const Operator& op = pipe.g.op(pipe.mg.metaops[static_cast<size_t>(in.metaop)].ops[static_cast<size_t>(in.first_layer)]);
        EXPECT_EQ(in.bytes, static_cast<std::int64_t>(in.last_row - in.first_row) * op.out_seq * op.out_hidden * element)
            << file;
        ++checked;
      }
    }
    EXPECT_GT(checked, 0) << file;
  }
}

// The clip is in the program: every device all-reduces one fp32 (its part of the squared
// gradient norm) over all devices after its last sync-wait and before its step, with one
// collective id everywhere, so the simulator and the estimate charge it like any collective.
TEST(Lowering, EveryDeviceAllReducesTheClipNormBeforeItsStep) {
  ScenarioModel pipe(load_scenario(default_data_dir() / "multitask-clip-4.toml"));
  Plan p = plan_system("sequential", pipe.s, pipe.mg, pipe.cost);
  place(p, pipe.s, pipe.g, pipe.mg, PlacementPolicy::kSpindle);
  const Programs progs = lower(p, pipe.s, pipe.g, pipe.mg);
  EXPECT_EQ(replay(progs), "");
  std::set<int> ids;
  for (const DeviceProgram& dp : progs.devices) {
    int clips = 0;
    bool stepped = false, synced_after = false;
    for (const Instr& in : dp.instrs) {
      if (in.kind == InstrKind::kClipNorm) {
        ++clips;
        EXPECT_FALSE(stepped) << "device " << dp.device << " steps before its clip all-reduce";
        EXPECT_EQ(in.bytes, 4);
        EXPECT_EQ(static_cast<int>(in.group.size()), p.gpus);
        ids.insert(in.collective);
      }
      if (in.kind == InstrKind::kSyncWait && clips > 0) synced_after = true;
      if (in.kind == InstrKind::kStep) stepped = true;
    }
    EXPECT_EQ(clips, 1) << "device " << dp.device;
    EXPECT_FALSE(synced_after) << "device " << dp.device << " waits for a bucket after the clip all-reduce";
    EXPECT_TRUE(stepped);
  }
  EXPECT_EQ(ids.size(), 1u);
  EXPECT_NE(program_text(progs.devices[0], pipe.s, pipe.mg).find("clip-norm"), std::string::npos);
}

// Two devices that send to each other before receiving complete with buffered sends (the
// CPU launchers' contract) and under per-peer queues (NCCL's), and deadlock when a send
// blocks its program; a receiver taking a pair's sends in another order than they were posted
// completes buffered (matched by id) and is refused under peer queues (NCCL matches by order)
// unless the two transfers go on different channels of the pair.
// The optimizer's work is in the program: each device's grad-norm (before its clip) counts
// parameters such that every weight is counted once over all devices, with and without ZeRO-1
// and tensor parallelism; its step updates what it holds (ZeRO-1: its share), in as many
// tensors as the engine's weight_shapes make (OpCost::weight_tensors, checked by the engine's
// tests).
TEST(Lowering, GradNormCountsEveryParameterOnceAndTheStepWhatEachDeviceHolds) {
  for (const char* set : {"planner.zero1=false", "planner.zero1=true"}) {
    ScenarioModel pipe(load_scenario(default_data_dir() / "ofasys-7.toml", LoadOptions{{set}, {}}));
    Plan p = plan_system("spindle", pipe.s, pipe.mg, pipe.cost);
    place(p, pipe.s, pipe.g, pipe.mg, PlacementPolicy::kSpindle);
    const Programs progs = lower(p, pipe.s, pipe.g, pipe.mg);
    ASSERT_EQ(replay(progs), "");
    const std::int64_t total = count_params(pipe.s, pipe.g).total;
    std::int64_t counted = 0, updated = 0;
    for (const DeviceProgram& dp : progs.devices) {
      int norms = 0;
      bool clipped = false;
      for (const Instr& in : dp.instrs) {
        if (in.kind == InstrKind::kGradNorm) {
          ++norms;
          EXPECT_FALSE(clipped) << set << ": device " << dp.device << " all-reduces its norm before computing it";
          counted += in.params;
          EXPECT_GE(in.tensors, in.params > 0 ? 1 : 0);
        }
        if (in.kind == InstrKind::kClipNorm) clipped = true;
        if (in.kind == InstrKind::kStep) {
          updated += in.params;
          EXPECT_GT(in.tensors, 0) << set << ": device " << dp.device;
          EXPECT_EQ(in.bytes, in.params * (kOptimizerStepBytesPerParam + p.sync.grad_bytes));
        }
      }
      EXPECT_EQ(norms, 1) << set << ": device " << dp.device;
    }
    // Shards and ZeRO-1 shares are rounded per device: a parameter per device at most.
    EXPECT_NEAR(static_cast<double>(counted), static_cast<double>(total), static_cast<double>(p.gpus)) << set;
    if (std::string(set) == "planner.zero1=true")
      EXPECT_NEAR(static_cast<double>(updated), static_cast<double>(total), static_cast<double>(p.gpus)) << set;
    else
      EXPECT_GE(updated, total) << set << ": replicas each update their copy";
  }
}

TEST(Lowering, ReplayTellsSendModesApart) {
  auto p2p = [](InstrKind kind, int peer, int tensor) {
    Instr in;
    in.kind = kind;
    in.peer = peer;
    in.tensor = tensor;
    in.bytes = 8;
    return in;
  };
  Programs cross;
  cross.devices = {{0, {p2p(InstrKind::kSend, 1, 0), p2p(InstrKind::kRecv, 1, 1)}},
                   {1, {p2p(InstrKind::kSend, 0, 1), p2p(InstrKind::kRecv, 0, 0)}}};
  EXPECT_EQ(replay(cross), "");
  EXPECT_EQ(replay(cross, SendMode::kPeerQueue), "");
  EXPECT_EQ(replay(cross, SendMode::kBlocking), "deadlock: device 0 waits at instruction 0 (send tensor 0)");
  Programs ordered;
  ordered.devices = {{0, {p2p(InstrKind::kSend, 1, 0), p2p(InstrKind::kRecv, 1, 1)}},
                     {1, {p2p(InstrKind::kRecv, 0, 0), p2p(InstrKind::kSend, 0, 1)}}};
  EXPECT_EQ(replay(ordered, SendMode::kBlocking), "");
  Programs swapped;
  swapped.devices = {{0, {p2p(InstrKind::kSend, 1, 0), p2p(InstrKind::kSend, 1, 1)}},
                     {1, {p2p(InstrKind::kRecv, 0, 1), p2p(InstrKind::kRecv, 0, 0)}}};
  EXPECT_EQ(replay(swapped), "");
  EXPECT_EQ(replay(swapped, SendMode::kPeerQueue),
            "device 1 receives tensor 1 from 0 on channel 0 while the oldest unmatched send there is tensor 0: "
            "the channel's sends and receives come in different orders");
  // On two channels of the pair the same orders are fine.
  for (auto& in : swapped.devices[1].instrs) in.channel = in.tensor == 1 ? 1 : 0;
  swapped.devices[0].instrs[0].channel = 0;
  swapped.devices[0].instrs[1].channel = 1;
  EXPECT_EQ(replay(swapped, SendMode::kPeerQueue), "");
  // The receiver waits first (its queue empty), then meets the other send at the head.
  Programs early;
  early.devices = {{0, {p2p(InstrKind::kRecv, 1, 1), p2p(InstrKind::kRecv, 1, 0)}},
                   {1, {p2p(InstrKind::kSend, 0, 0), p2p(InstrKind::kSend, 0, 1)}}};
  EXPECT_EQ(replay(early), "");
  EXPECT_NE(replay(early, SendMode::kPeerQueue).find("different orders"), std::string::npos);
}

}  // namespace
}  // namespace spindle::testing
