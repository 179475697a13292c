// What one iteration produced, simulated (spindle-sim) or measured (the engine's executor): every GPU's timeline (compute, and the time it was
// blocked on a transfer or on weight sync), every point-to-point transfer and every collective
// with its simulated start and end, and per-GPU totals. It crosses the process boundary as
// text (serialize / deserialize, exact: doubles as hex floats).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "planner/program/lowering.h"

namespace spindle {

// What a GPU's compute stream was doing during an interval.
enum class Busy { kForward, kBackward, kTransfer, kSync, kTp };
const char* busy_name(Busy b);

// The one map from an instruction to the category its time counts as, used by the simulator
// and by the engine alike so that simulated and measured iterations compare: forward and
// backward compute; a receive, a local copy and a contrastive gather are transfer; a weight
// sync's start and wait, a ZeRO-1 parameter gather and the optimizer step are sync (the
// step takes its memory traffic at the GPU's HBM bandwidth, which the planner does not plan);
// a tensor-parallel all-reduce
// is tp. A send is posted and never blocks the device: no category.
std::optional<Busy> busy_category(InstrKind k);

struct BusyInterval {
  int device = 0;
  int instr = 0;  // index in the device's program
  Busy what = Busy::kForward;
  double start_s = 0, end_s = 0;
};

struct TransferRecord {  // a send/recv pair
  int tensor = 0, src = 0, dst = 0;
  std::int64_t bytes = 0;
  double posted_s = 0, arrived_s = 0;
};

struct CollectiveRecord {  // one collective, from its last member's arrival to its end
  int id = 0;
  InstrKind kind = InstrKind::kGather;  // kGather, kSyncStart (weight sync) or kParamGather
  std::vector<int> group;
  std::int64_t bytes = 0;
  double start_s = 0, end_s = 0;
};

// Seconds of one GPU's iteration; idle = iteration - the rest (waiting for inputs or for
// other members, and after its program ends).
struct DeviceTime {
  double forward_s = 0, backward_s = 0, transfer_s = 0, sync_s = 0, tp_s = 0, end_s = 0;
  double compute_s() const { return forward_s + backward_s; }
  double& seconds(Busy b);  // the field category `b` adds to
};

// What the simulation did (deterministic counts): network flows it simulated (point-to-point
// transfers and collective flows) and events (compute sleeps, flows, collective starts).
struct ReplayStats {
  std::int64_t flows = 0, events = 0;
};

struct ReplayResult {
  double iteration_s = 0;  // the simulated clock when everything is done
  ReplayStats stats;
  std::vector<DeviceTime> devices;
  std::vector<BusyInterval> busy;  // by device, then time
  std::vector<TransferRecord> transfers;      // by tensor id
  std::vector<CollectiveRecord> collectives;  // by (id, kind)

  double idle_s(int device) const;
};

std::string serialize(const ReplayResult& r);
// Throws InternalError on malformed text.
ReplayResult deserialize_replay(const std::string& text);

}  // namespace spindle
