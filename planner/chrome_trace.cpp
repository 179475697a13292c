// Chrome trace-event writer (see chrome_trace.h). Timestamps in microseconds, rounded to
// nanoseconds; one event per line.
#include "planner/chrome_trace.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "planner/metaop_json.h"
#include "traces/text_table.h"

namespace spindle {
namespace {

using nlohmann::ordered_json;

double us(double s) { return std::round(s * 1e9) / 1e3; }

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

}  // namespace

std::string chrome_trace_json(const Scenario& s, const MetaGraph& mg, const Programs& programs,
                              const ReplayResult& r, const std::string& system, const std::string& clock) {
  const int gpn = s.cluster.gpus_per_node;
  std::vector<std::string> lines;
  auto add = [&](const ordered_json& e) { lines.push_back(e.dump(-1, ' ', false, ordered_json::error_handler_t::replace)); };
  for (int node = 0; node < s.cluster.nodes; ++node) {
    add({{"name", "process_name"}, {"ph", "M"}, {"pid", node}, {"args", {{"name", "node " + std::to_string(node)}}}});
    add({{"name", "process_sort_index"}, {"ph", "M"}, {"pid", node}, {"args", {{"sort_index", node}}}});
  }
  for (size_t d = 0; d < programs.devices.size(); ++d) {
    const int gpu = static_cast<int>(d);
    add({{"name", "thread_name"}, {"ph", "M"}, {"pid", gpu / gpn}, {"tid", gpu}, {"args", {{"name", "GPU " + std::to_string(gpu)}}}});
    add({{"name", "thread_sort_index"}, {"ph", "M"}, {"pid", gpu / gpn}, {"tid", gpu}, {"args", {{"sort_index", gpu}}}});
  }
  for (const BusyInterval& b : r.busy) {
    const Instr& in = programs.devices[static_cast<size_t>(b.device)].instrs[static_cast<size_t>(b.instr)];
    std::string name;
    ordered_json args = ordered_json::object();
    if (b.what == Busy::kForward || b.what == Busy::kBackward) {
      const MetaOp& m = mg.metaops[static_cast<size_t>(in.metaop)];
      name = s.tasks[static_cast<size_t>(m.tasks.front())].name + " / M" + std::to_string(m.id) + " " +
             component_name(s, m) + " / layers " + std::to_string(in.first_layer) + "-" +
             std::to_string(in.last_layer - 1) + " / " + busy_name(b.what);
      args = {{"metaop", m.id}, {"component", component_name(s, m)}, {"layers", {in.first_layer, in.last_layer}},
              {"rows", {in.first_row, in.last_row}}, {"planned_start_ms", std::round(in.planned_s * 1e6) / 1e3}};
    } else if (in.kind == InstrKind::kRecv) {
      name = "recv tensor " + std::to_string(in.tensor) + " from GPU " + std::to_string(in.peer);
      args = {{"bytes", in.bytes}};
    } else if (in.kind == InstrKind::kCopy) {
      name = "copy tensor " + std::to_string(in.tensor);
      args = {{"bytes", in.bytes}};
    } else if (in.kind == InstrKind::kGather) {
      name = "contrastive gather M" + std::to_string(in.metaop);
      args = {{"bytes", in.bytes}, {"group", group_text(in.group)}};
    } else if (in.kind == InstrKind::kStep) {
      name = "optimizer step";
    } else {
      name = std::string(in.kind == InstrKind::kParamGather ? "param gather"
                         : in.kind == InstrKind::kSyncStart ? "weight sync"
                                                             : "sync wait") +
             " bucket " + std::to_string(in.collective);
      args = {{"bytes", in.bytes}, {"group", group_text(in.group)}};
    }
    add({{"name", name}, {"cat", busy_name(b.what)}, {"ph", "X"}, {"ts", us(b.start_s)}, {"dur", std::round((us(b.end_s) - us(b.start_s)) * 1e3) / 1e3},
         {"pid", b.device / gpn}, {"tid", b.device}, {"args", args}});
  }
  // Transfers: an async slice on the sender's node while in flight, and a flow arrow from the
  // sender's track (just before the post) to the receiver's next slice.
  for (const TransferRecord& t : r.transfers) {
    const std::string name = "tensor " + std::to_string(t.tensor) + " GPU " + std::to_string(t.src) + " -> " +
                             std::to_string(t.dst) + " " + megabytes(t.bytes);
    add({{"name", name}, {"cat", "transfer"}, {"ph", "b"}, {"id", "t" + std::to_string(t.tensor)}, {"ts", us(t.posted_s)},
         {"pid", t.src / gpn}, {"tid", t.src}});
    add({{"name", name}, {"cat", "transfer"}, {"ph", "e"}, {"id", "t" + std::to_string(t.tensor)}, {"ts", us(t.arrived_s)},
         {"pid", t.src / gpn}, {"tid", t.src}});
    add({{"name", "transfer"}, {"cat", "flow"}, {"ph", "s"}, {"id", t.tensor}, {"ts", std::max(0.0, us(t.posted_s) - 0.001)},
         {"pid", t.src / gpn}, {"tid", t.src}});
    add({{"name", "transfer"}, {"cat", "flow"}, {"ph", "f"}, {"id", t.tensor}, {"ts", us(t.arrived_s)},
         {"pid", t.dst / gpn}, {"tid", t.dst}});
  }
  for (const CollectiveRecord& c : r.collectives) {
    const char* what = c.kind == InstrKind::kGather ? "contrastive gather" : c.kind == InstrKind::kParamGather ? "param gather" : "weight sync";
    const std::string id = "c" + std::to_string(c.id) + "-" + std::to_string(static_cast<int>(c.kind));
    const std::string name = std::string(what) + " " + std::to_string(c.id) + " {" + group_text(c.group) + "} " + megabytes(c.bytes);
    for (int node = c.group.front() / gpn; node <= c.group.back() / gpn; ++node) {
      if (std::none_of(c.group.begin(), c.group.end(), [&](int g) { return g / gpn == node; })) continue;
      add({{"name", name}, {"cat", what}, {"ph", "b"}, {"id", id}, {"ts", us(c.start_s)}, {"pid", node}, {"tid", node * gpn}});
      add({{"name", name}, {"cat", what}, {"ph", "e"}, {"id", id}, {"ts", us(c.end_s)}, {"pid", node}, {"tid", node * gpn}});
    }
  }
  const ordered_json other = {{"system", system}, {"scenario", s.name}, {clock + "_ms", std::round(r.iteration_s * 1e9) / 1e6}};
  std::string out = "{\"displayTimeUnit\": \"ms\", \"otherData\": " +
                    other.dump(-1, ' ', false, ordered_json::error_handler_t::replace) + ",\n\"traceEvents\": [\n";
  for (size_t i = 0; i < lines.size(); ++i) out += lines[i] + (i + 1 < lines.size() ? ",\n" : "\n");
  return out + "]}\n";
}

}  // namespace spindle
