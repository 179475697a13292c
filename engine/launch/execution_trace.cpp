// Measured timelines as ReplayResults and Chrome traces (see execution_trace.h).
#include "engine/launch/execution_trace.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <sstream>
#include <tuple>

#include "planner/report/iteration_trace.h"
#include "traces/errors.h"

namespace spindle::engine {

RankTimeline timeline_of(const RankRunner& rank) { return {rank.timeline(), rank.sync_spans()}; }

std::string timeline_text(const RankTimeline& t) {
  std::string out;
  char line[96];
  for (const ExecutedInstr& e : t.instrs) {
    std::snprintf(line, sizeof line, "i %d %a %a\n", e.instr, e.start_s, e.end_s);
    out += line;
  }
  for (const auto& [id, span] : t.sync_spans) {
    std::snprintf(line, sizeof line, "s %d %a %a\n", id, span.first, span.second);
    out += line;
  }
  return out;
}

RankTimeline parse_timeline(const std::string& text) {
  RankTimeline t;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    char kind = 0;
    int id = 0;
    double a = 0, b = 0;
    if (std::sscanf(line.c_str(), "%c %d %la %la", &kind, &id, &a, &b) != 4 || (kind != 'i' && kind != 's'))
      throw InternalError("a rank's timeline line '" + line + "' is not 'i|s ID START END'");
    if (kind == 'i')
      t.instrs.push_back({id, a, b});
    else
      t.sync_spans[id] = {a, b};
  }
  return t;
}

// As the simulator counts them: a receive is blocked from when its data was sent (the wait
// before is idle: the sender was late), a collective from its last member's arrival (the wait
// for the others is idle), a sync-wait from its bucket's start on the last member's sync
// thread. Two passes: the sends' posts and the collectives' last arrivals, then the intervals.
ReplayResult measured_iteration(const Programs& programs, const std::vector<RankTimeline>& ranks, double iteration_s) {
  ReplayResult r;
  r.iteration_s = iteration_s;
  std::map<int, TransferRecord> transfers;
  std::map<std::pair<int, InstrKind>, CollectiveRecord> collectives;
  if (ranks.size() != programs.devices.size())
    throw InternalError("measured_iteration: " + std::to_string(ranks.size()) + " timelines for " +
                        std::to_string(programs.devices.size()) + " programs");
  for (int d = 0; d < static_cast<int>(ranks.size()); ++d) {
    const auto& code = programs.devices[static_cast<size_t>(d)].instrs;
    const RankTimeline& rank = ranks[static_cast<size_t>(d)];
    for (const ExecutedInstr& e : rank.instrs) {
      const Instr& in = code[static_cast<size_t>(e.instr)];
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
            in.kind == InstrKind::kSyncStart ? rank.sync_spans.at(in.collective) : std::pair{e.start_s, e.end_s};
        CollectiveRecord& c = collectives[{in.collective, in.kind}];
        c.id = in.collective;
        c.kind = in.kind;
        c.group = in.group;
        c.bytes = in.bytes;
        c.start_s = std::max(c.start_s, start);  // the last member's arrival
        c.end_s = std::max(c.end_s, end);
      }
    }
  }
  for (int d = 0; d < static_cast<int>(ranks.size()); ++d) {
    const auto& code = programs.devices[static_cast<size_t>(d)].instrs;
    DeviceTime time;
    for (const ExecutedInstr& e : ranks[static_cast<size_t>(d)].instrs) {
      const Instr& in = code[static_cast<size_t>(e.instr)];
      time.end_s = std::max(time.end_s, e.end_s);
      const std::optional<Busy> what = busy_category(in.kind);
      if (!what) continue;
      double from = e.start_s;
      if (in.kind == InstrKind::kRecv) {
        const auto t = transfers.find(in.tensor);
        if (t != transfers.end()) from = std::max(from, t->second.posted_s);
      } else if (in.collective >= 0) {
        const InstrKind kind = in.kind == InstrKind::kSyncWait ? InstrKind::kSyncStart : in.kind;
        const auto c = collectives.find({in.collective, kind});
        if (c != collectives.end()) from = std::max(from, c->second.start_s);
      }
      // Blocked for no time once the data or the last member was there: no interval, as the
      // simulator records none (compute is recorded whatever its length).
      const bool compute = *what == Busy::kForward || *what == Busy::kBackward;
      if (!compute && from >= e.end_s) continue;
      from = std::min(from, e.end_s);
      time.seconds(*what) += e.end_s - from;
      r.busy.push_back({d, e.instr, *what, from, e.end_s});
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

std::string execution_trace_json(const Scenario& s, const MetaGraph& mg, const Programs& programs,
                                 const std::vector<RankTimeline>& ranks, double iteration_s, const std::string& label) {
  return iteration_trace_json(s, mg, programs, measured_iteration(programs, ranks, iteration_s), label, "measured");
}

}  // namespace spindle::engine
