// An iteration's events for the Chrome trace writer (see iteration_trace.h).
#include "planner/report/iteration_trace.h"

#include <algorithm>
#include <cmath>

#include "planner/graph/metaop_json.h"
#include "traces/chrome_trace.h"
#include "traces/text_table.h"

namespace spindle {
namespace {

// Members as runs ("0-7,16-23"); past 16 runs the rest is counted, not listed: every member's
// event carries this text, so a full list would make the trace quadratic in the group's size.
std::string group_text(const std::vector<int>& g) {
  constexpr int kMaxRuns = 16;
  std::string t;
  int runs = 0;
  for (size_t i = 0; i < g.size();) {
    size_t j = i;
    while (j + 1 < g.size() && g[j + 1] == g[j] + 1) ++j;
    if (runs == kMaxRuns) return t + ",... (" + std::to_string(g.size()) + " GPUs)";
    t += (runs++ ? "," : "") + std::to_string(g[i]) + (j > i ? "-" + std::to_string(g[j]) : "");
    i = j + 1;
  }
  return t;
}

std::string megabytes(std::int64_t b) { return fixed(static_cast<double>(b) / 1e6, 2) + " MB"; }

const char* collective_what(InstrKind k) {
  return k == InstrKind::kGather        ? "contrastive gather"
         : k == InstrKind::kParamGather ? "param gather"
         : k == InstrKind::kTpReduce    ? "tp all-reduce"
         : k == InstrKind::kClipNorm    ? "clip norm all-reduce"
                                        : "weight sync";
}

// The name and arguments of one busy interval's slice.
std::pair<std::string, TraceArgs> busy_event(const Scenario& s, const MetaGraph& mg, const Instr& in, Busy what) {
  if (what == Busy::kForward || what == Busy::kBackward) {
    const MetaOp& m = mg.metaops[static_cast<size_t>(in.metaop)];
    const std::string name = s.tasks[static_cast<size_t>(m.tasks.front())].name + " / M" + std::to_string(m.id) + " " +
                             component_name(s, m) + " / layers " + std::to_string(in.first_layer) + "-" +
                             std::to_string(in.last_layer - 1) + " / " + busy_name(what);
    return {name,
            {{"metaop", std::int64_t{m.id}},
             {"component", component_name(s, m)},
             {"layers", std::vector<std::int64_t>{in.first_layer, in.last_layer}},
             {"rows", std::vector<std::int64_t>{in.first_row, in.last_row}},
             {"planned_start_ms", std::round(in.planned_s * 1e6) / 1e3}}};
  }
  switch (in.kind) {
    case InstrKind::kRecv:
      return {"recv tensor " + std::to_string(in.tensor) + " from GPU " + std::to_string(in.peer), {{"bytes", in.bytes}}};
    case InstrKind::kCopy: return {"copy tensor " + std::to_string(in.tensor), {{"bytes", in.bytes}}};
    case InstrKind::kGather:
      return {"contrastive gather M" + std::to_string(in.metaop), {{"bytes", in.bytes}, {"group", group_text(in.group)}}};
    case InstrKind::kStep: return {"optimizer step", {{"params", in.params}, {"tensors", in.tensors}}};
    case InstrKind::kGradNorm: return {"gradient norm", {{"params", in.params}, {"tensors", in.tensors}}};
    case InstrKind::kClipNorm: return {"clip norm all-reduce", {{"bytes", in.bytes}, {"group", group_text(in.group)}}};
    case InstrKind::kTpReduce:
      return {"tp all-reduce M" + std::to_string(in.metaop) + " layer " + std::to_string(in.first_layer) +
                  (in.for_backward ? " backward" : ""),
              {{"bytes", in.bytes}, {"group", group_text(in.group)}}};
    default:
      return {std::string(in.kind == InstrKind::kParamGather ? "param gather"
                          : in.kind == InstrKind::kSyncStart ? "weight sync"
                                                              : "sync wait") +
                  " bucket " + std::to_string(in.collective),
              {{"bytes", in.bytes}, {"group", group_text(in.group)}}};
  }
}

}  // namespace

std::string iteration_trace_json(const Scenario& s, const MetaGraph& mg, const Programs& programs,
                                 const ReplayResult& r, const std::string& system, const std::string& clock) {
  const int gpn = s.cluster.gpus_per_node;
  ChromeTrace trace;
  for (int node = 0; node < s.cluster.nodes; ++node) trace.process(node, "node " + std::to_string(node), node);
  for (size_t d = 0; d < programs.devices.size(); ++d) {
    const int gpu = static_cast<int>(d);
    trace.thread(gpu / gpn, gpu, "GPU " + std::to_string(gpu), gpu);
  }
  for (const BusyInterval& b : r.busy) {
    const Instr& in = programs.devices[static_cast<size_t>(b.device)].instrs[static_cast<size_t>(b.instr)];
    const auto [name, args] = busy_event(s, mg, in, b.what);
    trace.slice(name, busy_name(b.what), b.start_s, b.end_s, b.device / gpn, b.device, args);
  }
  // Transfers: an async slice on the sender's node while in flight, and a flow arrow from the
  // sender's track (just before the post) to the receiver's next slice.
  for (const TransferRecord& t : r.transfers) {
    const std::string name = "tensor " + std::to_string(t.tensor) + " GPU " + std::to_string(t.src) + " -> " +
                             std::to_string(t.dst) + " " + megabytes(t.bytes);
    trace.async(name, "transfer", "t" + std::to_string(t.tensor), t.posted_s, t.arrived_s, t.src / gpn, t.src);
    trace.flow("transfer", t.tensor, t.posted_s, t.src / gpn, t.src, t.arrived_s, t.dst / gpn, t.dst);
  }
  for (const CollectiveRecord& c : r.collectives) {
    const char* what = collective_what(c.kind);
    const std::string id = "c" + std::to_string(c.id) + "-" + std::to_string(static_cast<int>(c.kind));
    const std::string name = std::string(what) + " " + std::to_string(c.id) + " {" + group_text(c.group) + "} " + megabytes(c.bytes);
    for (int node = c.group.front() / gpn; node <= c.group.back() / gpn; ++node) {
      if (std::none_of(c.group.begin(), c.group.end(), [&](int g) { return g / gpn == node; })) continue;
      trace.async(name, what, id, c.start_s, c.end_s, node, node * gpn);
    }
  }
  return trace.json({{"system", system},
                     {"scenario", s.name},
                     {"programs", programs_fingerprint(programs, s, mg)},
                     {clock + "_ms", std::round(r.iteration_s * 1e9) / 1e6}});
}

}  // namespace spindle
