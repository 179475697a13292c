// What the launchers share: the member sets a plan's programs communicate over (one
// communicator each, made up front under MPI) cover every instruction's group and all
// devices, each once, and the point-to-point links cover every send; a rank's timeline survives its text form bit for bit (rank 0 merges the
// ranks' timelines from it); the thread launcher's trace holds every device.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "engine/comm/comm_groups.h"
#include "engine/launch/execution_trace.h"
#include "engine/launch/logical_devices.h"
#include "engine/launch/thread_launcher.h"
#include "engine_test_util.h"
#include "planner/pipeline.h"
#include "traces/errors.h"

namespace spindle::engine::test {
namespace {

TEST(CommGroups, EveryInstructionsGroupAndAllDevicesOnce) {
  const Scenario s = on_devices(zoo("multitask-clip-4"), 4);
  const Programs programs = lowered_plan(ScenarioModel(s), "uniform", "").programs;
  const std::vector<std::vector<int>> groups = comm_groups(programs);
  const std::set<std::vector<int>> unique(groups.begin(), groups.end());
  EXPECT_EQ(unique.size(), groups.size());
  EXPECT_TRUE(std::is_sorted(groups.begin(), groups.end()));
  EXPECT_TRUE(unique.count({0, 1, 2, 3}));
  for (const DeviceProgram& p : programs.devices)
    for (const Instr& in : p.instrs)
      if (in.group.size() > 0) {
        EXPECT_TRUE(unique.count(std::vector<int>(in.group.begin(), in.group.end())));
      }
}

// Every send's (sender, receiver, channel) is a link, each once, and a link with no send is not.
TEST(CommGroups, P2pLinksAreTheSendsQueues) {
  const Scenario s = on_devices(zoo("multitask-clip-4"), 4);
  const Programs programs = lowered_plan(ScenarioModel(s), "spindle", "").programs;
  std::set<P2pLink> sends;
  for (const DeviceProgram& p : programs.devices)
    for (const Instr& in : p.instrs)
      if (in.kind == InstrKind::kSend) sends.insert({p.device, in.peer, in.channel});
  const std::vector<P2pLink> links = p2p_links(programs);
  ASSERT_FALSE(links.empty());
  EXPECT_TRUE(std::is_sorted(links.begin(), links.end()));
  EXPECT_EQ(std::set<P2pLink>(links.begin(), links.end()), sends);
  EXPECT_EQ(std::set<P2pLink>(links.begin(), links.end()).size(), links.size());
  for (const P2pLink& l : links) EXPECT_NE(l.from, l.to);  // local moves are copies, not sends
}

// A measured receive is blocked from when its data was sent and a collective from its last
// member's arrival, as the simulator counts them (the waits before are idle).
TEST(Timeline, MeasuredBlockingStartsWhenTheDataWasSentOrTheLastMemberArrived) {
  Programs p;
  Instr send, recv, clip;
  send.kind = InstrKind::kSend;
  send.tensor = 0;
  send.peer = 1;
  recv.kind = InstrKind::kRecv;
  recv.tensor = 0;
  recv.peer = 0;
  clip.kind = InstrKind::kClipNorm;
  clip.collective = 0;
  clip.group = std::vector<int>{0, 1};
  p.devices = {{0, {send, clip}}, {1, {recv, clip}}};
  const std::vector<RankTimeline> ranks = {{{{0, 5.0, 5.0}, {1, 7.0, 8.0}}, {}}, {{{0, 1.0, 6.0}, {1, 6.5, 8.0}}, {}}};
  const ReplayResult r = measured_iteration(p, ranks, 8.0);
  ASSERT_EQ(r.devices.size(), 2u);
  EXPECT_DOUBLE_EQ(r.devices[1].transfer_s, 1.0);  // 5 -> 6, not 1 -> 6
  EXPECT_DOUBLE_EQ(r.devices[0].sync_s, 1.0);      // the clip from 7 (device 0's arrival, the last)
  EXPECT_DOUBLE_EQ(r.devices[1].sync_s, 1.0);      // not from 6.5
  for (const BusyInterval& b : r.busy) {
    if (b.device == 1 && b.what == Busy::kTransfer) {
      EXPECT_DOUBLE_EQ(b.start_s, 5.0);
    }
  }
}

// A sync-wait is blocked from its bucket's start on the last member's sync thread (the
// collective ran there, not in the program), and the bucket is one record spanning the sync
// threads' runs; a sync-start takes no time in the program.
TEST(Timeline, SyncWaitIsBlockedFromTheBucketsLastStart) {
  Programs p;
  Instr start, wait;
  start.kind = InstrKind::kSyncStart;
  start.collective = 0;
  start.group = std::vector<int>{0, 1};
  start.bytes = 64;
  wait = start;
  wait.kind = InstrKind::kSyncWait;
  p.devices = {{0, {start, wait}}, {1, {start, wait}}};
  // Device 0 posts its bucket at 3 (its sync thread runs it 3..5), device 1 at 4 (4..5.5);
  // device 0 waits from 4.5, device 1 from 2 (it had nothing else to do).
  const std::vector<RankTimeline> ranks = {{{{0, 3.0, 3.0}, {1, 4.5, 5.6}}, {{0, {3.0, 5.0}}}},
                                           {{{0, 2.0, 2.0}, {1, 2.0, 5.6}}, {{0, {4.0, 5.5}}}}};
  const ReplayResult r = measured_iteration(p, ranks, 6.0);
  ASSERT_EQ(r.devices.size(), 2u);
  EXPECT_DOUBLE_EQ(r.devices[0].sync_s, 5.6 - 4.5);  // its own wait began after the last start (4)
  EXPECT_DOUBLE_EQ(r.devices[1].sync_s, 5.6 - 4.0);  // not from 2: the bucket began at 4
  ASSERT_EQ(r.collectives.size(), 1u);
  EXPECT_DOUBLE_EQ(r.collectives[0].start_s, 4.0);
  EXPECT_DOUBLE_EQ(r.collectives[0].end_s, 5.5);
  for (const BusyInterval& b : r.busy) EXPECT_EQ(b.instr, 1) << "a sync-start is not an interval";
}

TEST(Timeline, TextRoundTripIsExactAndTheTraceHoldsEveryDevice) {
  const Scenario s = on_devices(zoo("multitask-clip-4"), 2);
  ThreadLauncher launcher(s, lowered_plan(ScenarioModel(s), "spindle", "").programs, "cpu", TrainOptions{});
  launcher.step();
  const RankTimeline t = timeline_of(launcher.rank(1));
  ASSERT_FALSE(t.instrs.empty());
  const RankTimeline back = parse_timeline(timeline_text(t));
  ASSERT_EQ(back.instrs.size(), t.instrs.size());
  for (size_t i = 0; i < t.instrs.size(); ++i) {
    EXPECT_EQ(back.instrs[i].instr, t.instrs[i].instr);
    EXPECT_EQ(back.instrs[i].start_s, t.instrs[i].start_s);
    EXPECT_EQ(back.instrs[i].end_s, t.instrs[i].end_s);
  }
  EXPECT_EQ(back.sync_spans, t.sync_spans);
  EXPECT_THROW(parse_timeline("x 1 2 3\n"), InternalError);
  const std::string trace = launcher.trace_json("spindle");
  EXPECT_NE(trace.find("\"GPU 0"), std::string::npos);
  EXPECT_NE(trace.find("\"GPU 1"), std::string::npos);
  EXPECT_NE(trace.find("clip norm all-reduce"), std::string::npos);
}

// Under ZeRO-1 a device keeps AdamW's moments only for its shard: after a step, the ranks
// holding a weight hold its m (and v) once between them; without ZeRO-1 each holds all of it.
TEST(Zero1Moments, EachElementsMomentsLiveOnOneDevice) {
  for (bool zero1 : {true, false}) {
    SCOPED_TRACE(zero1 ? "ZeRO-1" : "all-reduce");
    Scenario s = on_devices(zoo("multitask-clip-4"), 4);
    s.planner.zero1 = zero1;
    ThreadLauncher launcher(s, lowered_plan(ScenarioModel(s), "uniform", "").programs, "cpu", TrainOptions{});
    launcher.step();
    std::map<std::string, std::int64_t> moments, size, holders;
    for (int d = 0; d < launcher.devices(); ++d)
      for (const auto& [name, p] : launcher.rank(d).weights().params()) {
        EXPECT_EQ(p.m.numel(), p.v.numel());
        moments[name] += p.m.numel();
        size[name] = p.value.numel();
        ++holders[name];
      }
    int shared = 0;
    for (const auto& [name, n] : size) {
      if (holders[name] < 2) continue;
      ++shared;
      EXPECT_EQ(moments[name], zero1 ? n : n * holders[name]) << name;
    }
    EXPECT_GT(shared, 0);
  }
}

}  // namespace
}  // namespace spindle::engine::test
