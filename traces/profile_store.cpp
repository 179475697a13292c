// Calibration profiles on disk (schema version 4; 3 reads too, see README.md "Profile files"): records
// converted to and from the tables of traces/hdf5_file.h, and the profile's key lookups.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <limits>
#include <set>
#include <tuple>
#include <vector>

#include "traces/errors.h"
#include "traces/hdf5_file.h"
#include "traces/names.h"
#include "traces/profile.h"

namespace spindle {
namespace {

namespace fs = std::filesystem;

constexpr size_t kKindLen = 32, kShortLen = 16;

struct OpRow {
  char kind[kKindLen], dtype[kShortLen];
  std::int64_t batch, seq, hidden, heads, ffn, cross_seq, out_hidden, out_seq, in_features;
  std::int32_t mlp, causal, tp, samples;
  double fwd_ms, bwd_ms, fwd_spread_ms, bwd_spread_ms;
  double fwd_kernel_ms, bwd_kernel_ms, fwd_kernels, bwd_kernels;  // version 4
};

// Version 4: one record per kernel name of a pass of an operator (its row in /ops).
struct KernelRow {
  std::int64_t op;
  char pass[kShortLen], name[kMaxKernelNameBytes + 1];
  double calls, time_ms;
};

struct CollectiveRow {
  char kind[kShortLen], algorithm[kShortLen];
  std::int32_t ranks, nodes, ranks_per_node, samples;
  std::int64_t bytes;
  double time_ms, spread_ms;
};

// The /ops record of `version` (3 has no kernel fields).
const h5::Layout& op_layout(int version) {
  using h5::Kind;
  static const h5::Layout v3{sizeof(OpRow),
                            {{"kind", offsetof(OpRow, kind), Kind::kString, kKindLen},
                             {"dtype", offsetof(OpRow, dtype), Kind::kString, kShortLen},
                             {"batch", offsetof(OpRow, batch), Kind::kI64},
                             {"seq", offsetof(OpRow, seq), Kind::kI64},
                             {"hidden", offsetof(OpRow, hidden), Kind::kI64},
                             {"heads", offsetof(OpRow, heads), Kind::kI64},
                             {"ffn", offsetof(OpRow, ffn), Kind::kI64},
                             {"cross_seq", offsetof(OpRow, cross_seq), Kind::kI64},
                             {"out_hidden", offsetof(OpRow, out_hidden), Kind::kI64},
                             {"out_seq", offsetof(OpRow, out_seq), Kind::kI64},
                             {"in_features", offsetof(OpRow, in_features), Kind::kI64},
                             {"mlp", offsetof(OpRow, mlp), Kind::kI32},
                             {"causal", offsetof(OpRow, causal), Kind::kI32},
                             {"tp", offsetof(OpRow, tp), Kind::kI32},
                             {"samples", offsetof(OpRow, samples), Kind::kI32},
                             {"fwd_ms", offsetof(OpRow, fwd_ms), Kind::kF64},
                             {"bwd_ms", offsetof(OpRow, bwd_ms), Kind::kF64},
                             {"fwd_spread_ms", offsetof(OpRow, fwd_spread_ms), Kind::kF64},
                             {"bwd_spread_ms", offsetof(OpRow, bwd_spread_ms), Kind::kF64}}};
  static const h5::Layout v4 = [] {
    h5::Layout l = v3;
    l.fields.push_back({"fwd_kernel_ms", offsetof(OpRow, fwd_kernel_ms), Kind::kF64});
    l.fields.push_back({"bwd_kernel_ms", offsetof(OpRow, bwd_kernel_ms), Kind::kF64});
    l.fields.push_back({"fwd_kernels", offsetof(OpRow, fwd_kernels), Kind::kF64});
    l.fields.push_back({"bwd_kernels", offsetof(OpRow, bwd_kernels), Kind::kF64});
    return l;
  }();
  return version == 3 ? v3 : v4;
}

const h5::Layout& kernel_layout() {
  using h5::Kind;
  static const h5::Layout l{sizeof(KernelRow),
                            {{"op", offsetof(KernelRow, op), Kind::kI64},
                             {"pass", offsetof(KernelRow, pass), Kind::kString, kShortLen},
                             {"name", offsetof(KernelRow, name), Kind::kString, kMaxKernelNameBytes + 1},
                             {"calls", offsetof(KernelRow, calls), Kind::kF64},
                             {"time_ms", offsetof(KernelRow, time_ms), Kind::kF64}}};
  return l;
}

const h5::Layout& collective_layout() {
  using h5::Kind;
  static const h5::Layout l{sizeof(CollectiveRow),
                            {{"kind", offsetof(CollectiveRow, kind), Kind::kString, kShortLen},
                             {"algorithm", offsetof(CollectiveRow, algorithm), Kind::kString, kShortLen},
                             {"ranks", offsetof(CollectiveRow, ranks), Kind::kI32},
                             {"nodes", offsetof(CollectiveRow, nodes), Kind::kI32},
                             {"ranks_per_node", offsetof(CollectiveRow, ranks_per_node), Kind::kI32},
                             {"samples", offsetof(CollectiveRow, samples), Kind::kI32},
                             {"bytes", offsetof(CollectiveRow, bytes), Kind::kI64},
                             {"time_ms", offsetof(CollectiveRow, time_ms), Kind::kF64},
                             {"spread_ms", offsetof(CollectiveRow, spread_ms), Kind::kF64}}};
  return l;
}

void copy_string(char* dst, size_t len, const std::string& src, const std::string& what) {
  if (src.size() >= len) throw IoError("profile " + what + " '" + src + "' is longer than " + std::to_string(len - 1));
  std::memset(dst, 0, len);
  std::memcpy(dst, src.data(), src.size());
}

std::string allowed_profile() {
  return "; allowed: a profile written by spindle-calibrate (schema version " + std::to_string(kProfileSchemaVersion) +
         ")";
}

}  // namespace

bool OpShapeKey::same_shape(const OpShapeKey& o) const {
  OpShapeKey a = *this;
  a.batch = o.batch;
  return a == o;
}

std::string OpShapeKey::str() const {
  std::string s = kind + (dtype.empty() ? "" : " " + dtype) + " [" + std::to_string(batch) + "," + std::to_string(seq) + "," + std::to_string(hidden) + "]";
  if (heads) s += " heads " + std::to_string(heads);
  if (ffn) s += " ffn " + std::to_string(ffn) + (mlp ? " swiglu" : "");
  if (causal) s += " causal";
  if (cross_seq) s += " cross " + std::to_string(cross_seq);
  if (out_hidden || out_seq) s += " out [" + std::to_string(out_seq) + "," + std::to_string(out_hidden) + "]";
  if (in_features) s += " in " + std::to_string(in_features);
  if (tp != 1) s += " tp " + std::to_string(tp);
  return s;
}

const OpMeasurement* Profile::find(const OpShapeKey& key) const {
  const auto it = ops.find(key);
  return it == ops.end() ? nullptr : &it->second;
}

std::vector<const OpMeasurement*> Profile::batches_of(const OpShapeKey& key) const {
  OpShapeKey first = key;
  first.batch = std::numeric_limits<std::int64_t>::min();
  std::vector<const OpMeasurement*> out;
  for (auto it = ops.lower_bound(first); it != ops.end() && it->first.same_shape(key); ++it) out.push_back(&it->second);
  return out;
}

void write_profile(const fs::path& path, const Profile& profile) {
  std::vector<OpRow> ops(profile.ops.size());
  std::vector<KernelRow> kernels;  // each naming its operator's row in /ops
  size_t row = 0;
  for (const auto& [key, m] : profile.ops) {
    for (const KernelShare& k : m.kernels) {
      KernelRow& kr = kernels.emplace_back();
      std::memset(&kr, 0, sizeof kr);
      kr.op = static_cast<std::int64_t>(row);
      copy_string(kr.pass, kShortLen, k.pass, "kernel pass");
      copy_string(kr.name, sizeof kr.name, k.name, "kernel name");
      kr.calls = k.calls, kr.time_ms = k.ms;
    }
    OpRow& r = ops[row++];
    std::memset(&r, 0, sizeof r);
    copy_string(r.kind, kKindLen, m.key.kind, "operator kind");
    copy_string(r.dtype, kShortLen, m.key.dtype, "operator dtype");
    r.batch = m.key.batch, r.seq = m.key.seq, r.hidden = m.key.hidden, r.heads = m.key.heads, r.ffn = m.key.ffn;
    r.cross_seq = m.key.cross_seq, r.out_hidden = m.key.out_hidden, r.out_seq = m.key.out_seq;
    r.in_features = m.key.in_features, r.mlp = m.key.mlp, r.causal = m.key.causal, r.tp = m.key.tp;
    r.samples = m.samples, r.fwd_ms = m.fwd_ms, r.bwd_ms = m.bwd_ms;
    r.fwd_spread_ms = m.fwd_spread_ms, r.bwd_spread_ms = m.bwd_spread_ms;
    r.fwd_kernel_ms = m.fwd_kernel_ms, r.bwd_kernel_ms = m.bwd_kernel_ms;
    r.fwd_kernels = m.fwd_kernels, r.bwd_kernels = m.bwd_kernels;
  }
  std::vector<CollectiveRow> colls(profile.collectives.size());
  for (size_t i = 0; i < colls.size(); ++i) {
    const CollectiveMeasurement& m = profile.collectives[i];
    CollectiveRow& r = colls[i];
    std::memset(&r, 0, sizeof r);
    copy_string(r.kind, kShortLen, m.kind, "collective kind");
    copy_string(r.algorithm, kShortLen, m.algorithm, "collective algorithm");
    r.ranks = m.ranks, r.nodes = m.nodes, r.ranks_per_node = m.ranks_per_node, r.samples = m.samples, r.bytes = m.bytes, r.time_ms = m.time_ms;
    r.spread_ms = m.spread_ms;
  }
  h5::Writer w(path);
  w.string_attr("/", "schema", "spindle-profile");
  w.string_attr("/", "version", std::to_string(kProfileSchemaVersion));
  w.string_attr("/", "backend", profile.backend);
  w.string_attr("/", "device", profile.device);
  w.string_attr("/", "timer", profile.timer);
  w.string_attr("/", "libraries", profile.libraries);
  w.string_attr("/", "date", profile.date);
  w.string_attr("/", "notes", profile.notes);
  w.table("ops", op_layout(kProfileSchemaVersion), ops.data(), ops.size());
  w.table("kernels", kernel_layout(), kernels.data(), kernels.size());
  w.table("collectives", collective_layout(), colls.data(), colls.size());
  w.commit();
}

namespace {
constexpr double kMinTimeMs = 1e-6, kMaxTimeMs = 1e9;
constexpr const char* kTimeRange = "1e-6 to 1e9 ms (1 ns to 11 days)";
}  // namespace

Profile read_profile(const fs::path& path) {
  const std::string name = path.string();
  const std::string allowed = allowed_profile();
  const h5::Reader file(path, allowed);
  if (file.string_attr("schema") != "spindle-profile")
    throw InputError(name + ": not a spindle profile (attribute schema is not 'spindle-profile')" + allowed);
  const std::string version = file.string_attr("version");
  if (version != std::to_string(kProfileSchemaVersion) && version != "3")
    throw InputError(name + ": profile schema version " + printable(version) +
                     (version == "2" ? " (its operators have no dtype and it does not say what measured it: measure again)"
                                     : "") +
                     allowed);
  Profile p;
  p.source = name;
  p.backend = file.string_attr("backend");
  p.device = file.string_attr("device");
  p.timer = file.string_attr("timer");
  p.libraries = file.string_attr("libraries");
  p.date = file.string_attr("date");
  p.notes = file.string_attr("notes");
  if (!name_problem(p.backend).empty())
    throw InputError(name + ": attribute backend '" + printable(p.backend) + "' " + name_problem(p.backend) +
                     "; allowed: the engine backend that measured it, such as cpu or cuda");
  // Samples and their spread, as a measurement gives them.
  auto check_samples = [&](const std::string& row, std::int32_t samples, double spread_ms) {
    if (samples < 1 || !(spread_ms >= 0) || !std::isfinite(spread_ms))
      throw InputError(row + "samples " + std::to_string(samples) + ", spread " + std::to_string(spread_ms) +
                       " ms; allowed: samples >= 1, a finite spread >= 0");
  };
  const int schema = version == "3" ? 3 : kProfileSchemaVersion;
  std::vector<OpShapeKey> row_keys;  // /ops in file order, for /kernels' op column
  for (const OpRow& r : file.table<OpRow>("ops", op_layout(schema))) {
    OpMeasurement m;
    m.key.kind = std::string(r.kind, strnlen(r.kind, kKindLen));
    m.key.dtype = std::string(r.dtype, strnlen(r.dtype, kShortLen));
    m.key.batch = r.batch, m.key.seq = r.seq, m.key.hidden = r.hidden, m.key.heads = r.heads, m.key.ffn = r.ffn;
    m.key.cross_seq = r.cross_seq, m.key.out_hidden = r.out_hidden, m.key.out_seq = r.out_seq;
    m.key.in_features = r.in_features, m.key.mlp = r.mlp, m.key.causal = r.causal, m.key.tp = r.tp;
    m.samples = r.samples, m.fwd_ms = r.fwd_ms, m.bwd_ms = r.bwd_ms;
    m.fwd_spread_ms = r.fwd_spread_ms, m.bwd_spread_ms = r.bwd_spread_ms;
    if (schema >= 4) {
      m.fwd_kernel_ms = r.fwd_kernel_ms, m.bwd_kernel_ms = r.bwd_kernel_ms;
      m.fwd_kernels = r.fwd_kernels, m.bwd_kernels = r.bwd_kernels;
    }
    // A time the cost model can add and scale: 1 ns to 11 days (5e-324 ms became 0 s there).
    const auto time_ok = [](double ms) { return ms >= kMinTimeMs && ms <= kMaxTimeMs; };
    if (!time_ok(m.fwd_ms) || !(m.bwd_ms == 0 || time_ok(m.bwd_ms)))
      throw InputError(name + ": /ops row for " + printable(m.key.str()) + " has fwd_ms " + std::to_string(m.fwd_ms) +
                       ", bwd_ms " + std::to_string(m.bwd_ms) + "; allowed: " + kTimeRange +
                       " for fwd_ms, and 0 or the same for bwd_ms");
    const std::string op_row = name + ": /ops row for " + printable(m.key.str()) + ": ";
    if (!name_problem(m.key.kind).empty())
      throw InputError(op_row + "kind '" + m.key.kind + "' " + name_problem(m.key.kind) + "; allowed: an operator kind");
    if (m.key.batch < 1 || m.key.seq < 1 || m.key.hidden < 1 || m.key.heads < 0 || m.key.ffn < 0 || m.key.cross_seq < 0 ||
        m.key.out_hidden < 0 || m.key.out_seq < 0 || m.key.in_features < 0)
      throw InputError(op_row + "a negative or zero size; allowed: batch, seq, hidden >= 1, the other sizes >= 0");
    if ((m.key.mlp != 0 && m.key.mlp != 1) || (m.key.causal != 0 && m.key.causal != 1) || m.key.tp < 1)
      throw InputError(op_row + "mlp " + std::to_string(m.key.mlp) + ", causal " + std::to_string(m.key.causal) +
                       ", tp " + std::to_string(m.key.tp) + "; allowed: mlp 0 (gelu) or 1 (swiglu), causal 0 or 1, tp >= 1");
    const std::vector<std::string>& dtypes = profile_dtypes();
    if (std::find(dtypes.begin(), dtypes.end(), m.key.dtype) == dtypes.end()) {
      std::string all;
      for (const std::string& d : dtypes) all += (all.empty() ? "" : ", ") + d;
      throw InputError(op_row + "dtype '" + printable(m.key.dtype) + "'; allowed: one of " + all);
    }
    check_samples(op_row, m.samples, m.fwd_spread_ms);
    check_samples(op_row, m.samples, m.bwd_spread_ms);
    for (double x : {m.fwd_kernel_ms, m.bwd_kernel_ms, m.fwd_kernels, m.bwd_kernels})
      if (!(x >= 0) || !(x <= kMaxTimeMs))
        throw InputError(op_row + "fwd_kernel_ms " + std::to_string(m.fwd_kernel_ms) + ", bwd_kernel_ms " +
                         std::to_string(m.bwd_kernel_ms) + ", fwd_kernels " + std::to_string(m.fwd_kernels) +
                         ", bwd_kernels " + std::to_string(m.bwd_kernels) +
                         "; allowed: finite values >= 0 (0 where no kernel records were taken)");
    row_keys.push_back(m.key);
    if (!p.add(m))  // duplicates found in n log n (a scan per row made 60k rows take 18 s)
      throw InputError(name + ": /ops holds " + printable(m.key.str()) + " twice; allowed: one record per shape");
  }
  if (schema >= 4) {
    std::set<std::tuple<std::int64_t, std::string, std::string>> seen;
    for (const KernelRow& r : file.table<KernelRow>("kernels", kernel_layout())) {
      KernelShare k;
      k.pass = std::string(r.pass, strnlen(r.pass, kShortLen));
      k.name = std::string(r.name, strnlen(r.name, sizeof r.name));
      k.calls = r.calls, k.ms = r.time_ms;
      const std::string row = name + ": /kernels row " + std::to_string(seen.size()) + ": ";
      if (r.op < 0 || r.op >= static_cast<std::int64_t>(row_keys.size()))
        throw InputError(row + "op " + std::to_string(r.op) + "; allowed: a row of /ops, 0 to " +
                         std::to_string(static_cast<std::int64_t>(row_keys.size()) - 1));
      if (k.pass != "fwd" && k.pass != "bwd")
        throw InputError(row + "pass '" + printable(k.pass) + "'; allowed: fwd, bwd");
      if (k.name.empty()) throw InputError(row + "an empty kernel name; allowed: the name the device's records gave");
      if (!(k.calls > 0) || !(k.calls <= kMaxTimeMs) || !(k.ms >= 0) || !(k.ms <= kMaxTimeMs))
        throw InputError(row + "calls " + std::to_string(k.calls) + ", time_ms " + std::to_string(k.ms) +
                         "; allowed: calls > 0 and a finite time_ms >= 0");
      if (!seen.insert({r.op, k.pass, k.name}).second)
        throw InputError(row + printable(k.name) + " of " + k.pass + " of /ops row " + std::to_string(r.op) +
                         " is there twice; allowed: one record per operator, pass and kernel name");
      p.ops.at(row_keys[static_cast<size_t>(r.op)]).kernels.push_back(k);
    }
    // A pass's rows are its records by name: their calls add up to its records per run.
    for (const auto& [key, m] : p.ops) {
      double calls[2] = {0, 0};
      for (const KernelShare& k : m.kernels) calls[k.pass == "fwd" ? 0 : 1] += k.calls;
      const double want[2] = {m.fwd_kernels, m.bwd_kernels};
      for (int pass = 0; pass < 2; ++pass)
        if ((calls[pass] > 0 || want[pass] > 0) &&
            std::abs(calls[pass] - want[pass]) > 1e-6 * std::max(1.0, want[pass]))
          throw InputError(name + ": /kernels rows of the " + (pass == 0 ? "fwd" : "bwd") + " pass of " +
                           printable(key.str()) + " add up to " + std::to_string(calls[pass]) + " calls, its /ops row says " +
                           std::to_string(want[pass]) + " kernels; allowed: the pass's records by name, adding up");
    }
  }
  std::set<std::tuple<std::string, std::string, std::int32_t, std::int32_t, std::int32_t, std::int64_t>> measured;
  for (const CollectiveRow& r : file.table<CollectiveRow>("collectives", collective_layout())) {
    CollectiveMeasurement m;
    m.kind = std::string(r.kind, strnlen(r.kind, kShortLen));
    m.algorithm = std::string(r.algorithm, strnlen(r.algorithm, kShortLen));
    m.ranks = r.ranks, m.nodes = r.nodes, m.ranks_per_node = r.ranks_per_node;
    m.samples = r.samples, m.bytes = r.bytes, m.time_ms = r.time_ms;
    m.spread_ms = r.spread_ms;
    const std::string row = name + ": /collectives row " + std::to_string(p.collectives.size()) + ": ";
    auto one_of = [&](const std::string& what, const std::string& v, const std::vector<std::string>& allowed_values) {
      if (std::find(allowed_values.begin(), allowed_values.end(), v) == allowed_values.end()) {
        std::string all;
        for (const std::string& a : allowed_values) all += (all.empty() ? "" : ", ") + (a.empty() ? "'' (NCCL chose)" : a);
        throw InputError(row + what + " '" + printable(v) + "'; allowed: one of " + all);
      }
    };
    one_of("kind", m.kind, {"all_reduce", "all_gather", "reduce_scatter", "broadcast", "send_recv"});
    one_of("algorithm", m.algorithm, {"", "ring", "tree", "nvls", "nvls_tree", "pat"});
    // The group's shape: `nodes` nodes, each holding one rank or more, the fullest ranks_per_node.
    const std::int64_t ranks = m.ranks, nodes = m.nodes, per_node = m.ranks_per_node;
    if (ranks < 2 || nodes < 1 || per_node < 1 || ranks < per_node + nodes - 1 || ranks > nodes * per_node)
      throw InputError(row + "ranks " + std::to_string(ranks) + ", nodes " + std::to_string(nodes) +
                       ", ranks_per_node " + std::to_string(per_node) +
                       "; allowed: ranks >= 2 on nodes >= 1, each node holding one or more and the fullest "
                       "ranks_per_node (ranks_per_node + nodes - 1 <= ranks <= nodes x ranks_per_node)");
    if (m.bytes < 1 || !(m.time_ms >= kMinTimeMs && m.time_ms <= kMaxTimeMs))
      throw InputError(row + "bytes " + std::to_string(m.bytes) + ", time_ms " + std::to_string(m.time_ms) +
                       "; allowed: bytes >= 1, time_ms " + kTimeRange);
    check_samples(row, m.samples, m.spread_ms);
    if (!measured.insert({m.kind, m.algorithm, m.ranks, m.nodes, m.ranks_per_node, m.bytes}).second)
      throw InputError(row + m.kind + " of " + std::to_string(m.bytes) + " B on " + std::to_string(ranks) +
                       " ranks (" + std::to_string(nodes) + " nodes x " + std::to_string(per_node) + ") " +
                       (m.algorithm.empty() ? "" : "with " + m.algorithm + " ") +
                       "is there twice; allowed: one record per collective, algorithm, group shape and size");
    p.collectives.push_back(m);
  }
  return p;
}

}  // namespace spindle
