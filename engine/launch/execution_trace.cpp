// Measured timelines as ReplayResults and Chrome traces (see execution_trace.h).
#include "engine/launch/execution_trace.h"

#include <algorithm>
#include <map>
#include <tuple>

#include "planner/report/iteration_trace.h"

namespace spindle::engine {

ReplayResult measured_iteration(const ThreadLauncher& ex) {
  ReplayResult r;
  r.iteration_s = ex.iteration_s();
  std::map<int, TransferRecord> transfers;
  std::map<std::pair<int, InstrKind>, CollectiveRecord> collectives;
  for (int d = 0; d < ex.devices(); ++d) {
    const auto& code = ex.programs().devices[static_cast<size_t>(d)].instrs;
    DeviceTime time;
    for (const ExecutedInstr& e : ex.rank(d).timeline()) {
      const Instr& in = code[static_cast<size_t>(e.instr)];
      const double secs = e.end_s - e.start_s;
      time.end_s = std::max(time.end_s, e.end_s);
      if (const std::optional<Busy> what = busy_category(in.kind)) {
        time.seconds(*what) += secs;
        r.busy.push_back({d, e.instr, *what, e.start_s, e.end_s});
      }
      if (in.kind == InstrKind::kSend) {
        TransferRecord& t = transfers[in.tensor];
        t.tensor = in.tensor;
        t.src = d;
        t.dst = in.peer;
        t.bytes = in.bytes;
        t.posted_s = e.start_s;
      } else if (in.kind == InstrKind::kRecv) {
        transfers[in.tensor].arrived_s = e.end_s;
      } else if (in.collective >= 0 && in.kind != InstrKind::kSyncWait) {
        // Under ZeRO-1 or not, a bucket's sync is one record (kSyncStart), as the simulator's;
        // it ran on the device's sync thread.
        const auto [start, end] =
            in.kind == InstrKind::kSyncStart ? ex.rank(d).sync_spans().at(in.collective) : std::pair{e.start_s, e.end_s};
        CollectiveRecord& c = collectives[{in.collective, in.kind}];
        c.id = in.collective;
        c.kind = in.kind;
        c.group = in.group;
        c.bytes = in.bytes;
        c.start_s = std::max(c.start_s, start);  // the last member's arrival
        c.end_s = std::max(c.end_s, end);
      }
    }
    r.devices.push_back(time);
  }
  for (auto& [id, t] : transfers) r.transfers.push_back(t);
  for (auto& [key, c] : collectives) r.collectives.push_back(c);
  std::stable_sort(r.busy.begin(), r.busy.end(), [](const BusyInterval& a, const BusyInterval& b) {
    return std::tie(a.device, a.start_s) < std::tie(b.device, b.start_s);
  });
  return r;
}

std::string execution_trace_json(const ThreadLauncher& ex, const std::string& label) {
  return iteration_trace_json(ex.scenario(), ex.metagraph(), ex.programs(), measured_iteration(ex), label, "measured");
}

}  // namespace spindle::engine
