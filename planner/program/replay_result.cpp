// Exact text round trip of a ReplayResult (hex floats), for results coming back from a child
// process.
#include "planner/program/replay_result.h"

#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "traces/errors.h"

namespace spindle {
namespace {

std::string hex(double x) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%a", x);
  return buf;
}

double read_hex(std::istringstream& in) {
  std::string t;
  if (!(in >> t)) throw InternalError("replay result: truncated");
  char* end = nullptr;
  const double x = std::strtod(t.c_str(), &end);
  if (end == t.c_str() || *end != '\0') throw InternalError("replay result: bad number '" + t + "'");
  return x;
}

template <typename T>
T read_int(std::istringstream& in) {
  long long v = 0;
  if (!(in >> v)) throw InternalError("replay result: truncated");
  return static_cast<T>(v);
}

}  // namespace

const char* busy_name(Busy b) {
  switch (b) {
    case Busy::kForward: return "fwd";
    case Busy::kBackward: return "bwd";
    case Busy::kTransfer: return "transfer";
    case Busy::kSync: return "sync";
    case Busy::kTp: return "tp";
  }
  return "?";
}

std::optional<Busy> busy_category(InstrKind k) {
  switch (k) {
    case InstrKind::kForward: return Busy::kForward;
    case InstrKind::kBackward: return Busy::kBackward;
    case InstrKind::kRecv:
    case InstrKind::kCopy:
    case InstrKind::kGather: return Busy::kTransfer;
    case InstrKind::kSyncStart:
    case InstrKind::kSyncWait:
    case InstrKind::kParamGather:
    case InstrKind::kClipNorm:
    case InstrKind::kGradNorm:
    case InstrKind::kStep: return Busy::kSync;
    case InstrKind::kTpReduce: return Busy::kTp;
    case InstrKind::kSend: return std::nullopt;
  }
  return std::nullopt;
}

double& DeviceTime::seconds(Busy b) {
  switch (b) {
    case Busy::kForward: return forward_s;
    case Busy::kBackward: return backward_s;
    case Busy::kTransfer: return transfer_s;
    case Busy::kTp: return tp_s;
    case Busy::kSync: break;
  }
  return sync_s;
}

double ReplayResult::idle_s(int device) const {
  const DeviceTime& d = devices[static_cast<size_t>(device)];
  return iteration_s - d.forward_s - d.backward_s - d.transfer_s - d.sync_s;
}

std::string serialize(const ReplayResult& r) {
  std::ostringstream o;
  o << "replay " << hex(r.iteration_s) << " " << r.devices.size() << " " << r.busy.size() << " "
    << r.transfers.size() << " " << r.collectives.size() << " " << r.stats.flows << " " << r.stats.events << "\n";
  for (const DeviceTime& d : r.devices)
    o << hex(d.forward_s) << " " << hex(d.backward_s) << " " << hex(d.transfer_s) << " " << hex(d.sync_s) << " "
      << hex(d.end_s) << "\n";
  for (const BusyInterval& b : r.busy)
    o << b.device << " " << b.instr << " " << static_cast<int>(b.what) << " " << hex(b.start_s) << " " << hex(b.end_s)
      << "\n";
  for (const TransferRecord& t : r.transfers)
    o << t.tensor << " " << t.src << " " << t.dst << " " << t.bytes << " " << hex(t.posted_s) << " " << hex(t.arrived_s)
      << "\n";
  for (const CollectiveRecord& c : r.collectives) {
    o << c.id << " " << static_cast<int>(c.kind) << " " << c.bytes << " " << hex(c.start_s) << " " << hex(c.end_s) << " "
      << c.group.size();
    for (int g : c.group) o << " " << g;
    o << "\n";
  }
  return o.str();
}

ReplayResult deserialize_replay(const std::string& text) {
  std::istringstream in(text);
  std::string tag;
  if (!(in >> tag) || tag != "replay") throw InternalError("replay result: missing header");
  ReplayResult r;
  r.iteration_s = read_hex(in);
  const auto devices = read_int<size_t>(in), busy = read_int<size_t>(in), transfers = read_int<size_t>(in),
             collectives = read_int<size_t>(in);
  r.stats.flows = read_int<std::int64_t>(in);
  r.stats.events = read_int<std::int64_t>(in);
  for (size_t i = 0; i < devices; ++i) {
    DeviceTime d;
    d.forward_s = read_hex(in);
    d.backward_s = read_hex(in);
    d.transfer_s = read_hex(in);
    d.sync_s = read_hex(in);
    d.end_s = read_hex(in);
    r.devices.push_back(d);
  }
  for (size_t i = 0; i < busy; ++i) {
    BusyInterval b;
    b.device = read_int<int>(in);
    b.instr = read_int<int>(in);
    b.what = static_cast<Busy>(read_int<int>(in));
    b.start_s = read_hex(in);
    b.end_s = read_hex(in);
    r.busy.push_back(b);
  }
  for (size_t i = 0; i < transfers; ++i) {
    TransferRecord t;
    t.tensor = read_int<int>(in);
    t.src = read_int<int>(in);
    t.dst = read_int<int>(in);
    t.bytes = read_int<std::int64_t>(in);
    t.posted_s = read_hex(in);
    t.arrived_s = read_hex(in);
    r.transfers.push_back(t);
  }
  for (size_t i = 0; i < collectives; ++i) {
    CollectiveRecord c;
    c.id = read_int<int>(in);
    c.kind = static_cast<InstrKind>(read_int<int>(in));
    c.bytes = read_int<std::int64_t>(in);
    c.start_s = read_hex(in);
    c.end_s = read_hex(in);
    const auto members = read_int<size_t>(in);
    for (size_t k = 0; k < members; ++k) c.group.push_back(read_int<int>(in));
    r.collectives.push_back(std::move(c));
  }
  return r;
}

}  // namespace spindle
