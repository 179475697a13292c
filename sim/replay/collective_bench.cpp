// nccl-tests-style tables from simulated collectives (see collective_bench.h).
#include "sim/replay/collective_bench.h"

#include "planner/cost/nccl_tuner.h"

#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "planner/cost/collective_flows.h"
#include "planner/cost/collective_table.h"
#include "sim/replay/process_pool.h"
#include "traces/errors.h"
#include "traces/text_table.h"

namespace spindle {

Collective parse_collective(const std::string& name, const std::string& flag) {
  if (name == "all_reduce") return Collective::kAllReduce;
  if (name == "all_gather") return Collective::kAllGather;
  if (name == "reduce_scatter") return Collective::kReduceScatter;
  if (name == "broadcast") return Collective::kBroadcast;
  if (name == "sendrecv" || name == "send_recv") return Collective::kSendRecv;
  throw InputError(flag + " " + name + ": unknown collective; allowed: all_reduce, all_gather, reduce_scatter, broadcast, sendrecv");
}

std::vector<BenchRow> bench_collective(const Cluster& cluster, Collective c, int gpus, const NetworkOptions& options) {
  std::vector<std::int64_t> sizes;
  for (std::int64_t b = 8; b <= std::int64_t{8} << 30; b *= 2) sizes.push_back(b);  // nccl-tests -b 8 -e 8G -f 2
  return bench_collective(cluster, c, gpus, options, sizes);
}

std::vector<BenchRow> bench_collective(const Cluster& cluster, Collective c, int gpus, const NetworkOptions& options,
                                       const std::vector<std::int64_t>& sizes) {
  if (gpus < 2 || gpus > cluster.gpus())
    throw InputError("--gpus " + std::to_string(gpus) + ": out of range; allowed: 2.." + std::to_string(cluster.gpus()) +
                     " (the scenario's GPUs)");
  std::vector<int> group;
  for (int g = 0; g < gpus; ++g) group.push_back(g);
  std::vector<std::vector<FlowPhase>> runs;
  for (std::int64_t b : sizes) runs.push_back(collective_flows(c, group, static_cast<double>(b), cluster));
  const std::string text = run_in_children({[&] {
    std::ostringstream o;
    for (double t : time_collectives_on_network(cluster, runs, options)) o << std::hexfloat << t << "\n";
    return o.str();
  }}).front();
  std::istringstream in(text);
  std::vector<BenchRow> rows;
  for (std::int64_t b : sizes) {
    std::string t;
    if (!(in >> t)) throw InternalError("collective benchmark: missing result");
    const double secs = std::strtod(t.c_str(), nullptr);
    rows.push_back({b, secs, algbw_GBps(static_cast<double>(b), secs), busbw_GBps(c, gpus, static_cast<double>(b), secs)});
  }
  return rows;
}

namespace {

// The profile's measurement of the benchmark's group at each row's size, where it has one.
std::vector<std::optional<MeasuredTime>> profile_times(const Scenario& s, Collective c, int gpus,
                                                       const std::vector<BenchRow>& rows) {
  std::vector<std::optional<MeasuredTime>> out(rows.size());
  if (!s.cluster.measured_collectives) return out;
  const NcclTopology topo = nccl_topology(s.cluster, gpus);
  for (size_t i = 0; i < rows.size(); ++i)
    out[i] = s.cluster.measured_collectives->lookup(c, gpus, topo.nodes, topo.most_per_node,
                                                    static_cast<double>(rows[i].bytes));
  return out;
}

}  // namespace

std::string collective_model_text(const Cluster& c, const NetworkOptions& options) {
  if (c.collectives == CollectiveModel::kNccl)
    return "as NCCL's tuner runs them" + (c.nccl_algo.empty() ? std::string() : ", NCCL_ALGO=" + c.nccl_algo);
  return std::string("as a hierarchical ring, ") + (options.ring_steps ? "every ring step a flow" : "one flow per rank per phase");
}

std::string bench_text(const Scenario& s, Collective c, int gpus, const std::vector<BenchRow>& rows,
                       const NetworkOptions& options) {
  const NcclTopology topo = nccl_topology(s.cluster, gpus);
  const std::vector<std::optional<MeasuredTime>> measured = profile_times(s, c, gpus, rows);
  const bool has_profile = !rows.empty() && measured.front().has_value();
  std::string out = std::string(collective_name(c)) + " on GPUs 0-" + std::to_string(gpus - 1) + " (" +
                    std::to_string(topo.nodes) + " node" + (topo.nodes > 1 ? "s" : "") + ") of " + s.name +
                    ", simulated (CM02; collectives " + collective_model_text(s.cluster, options) +
                    "); sizes and bandwidths as nccl-tests defines them\n";
  if (s.cluster.measured_collectives) {
    const std::string shape = std::to_string(gpus) + " ranks (" + std::to_string(topo.nodes) + " x " +
                              std::to_string(topo.most_per_node) + ")";
    out += has_profile ? "the profile " + s.cluster.measured_collectives->source() + " measured it on " + shape +
                             ": the simulation runs its times (between measured sizes interpolated, below the smallest "
                             "its time, above the largest its bandwidth)\n"
                       : "the profile " + s.cluster.measured_collectives->source() + " has no " + collective_name(c) +
                             " on " + shape + ": the simulation runs the model\n";
  }
  out += "NCCL 2.28's own model beside it (its tuner's choice and time on this hardware; planner/cost/nccl_tuner.h)\n";
  using A = TextTable::Align;
  TextTable t;
  for (const char* h : {"size B", "time us", "algbw GB/s", "busbw GB/s"}) t.add_column(h, A::kRight);
  if (has_profile)
    for (const char* h : {"profile us", "profile busbw GB/s"}) t.add_column(h, A::kRight);
  for (const char* h : {"NCCL algo", "NCCL time us", "NCCL busbw GB/s"}) t.add_column(h, A::kRight);
  for (size_t i = 0; i < rows.size(); ++i) {
    const BenchRow& r = rows[i];
    const double bytes = static_cast<double>(r.bytes);
    const NcclCost k = nccl_choice(c, topo, bytes, s.cluster);
    std::vector<std::string> cells{std::to_string(r.bytes), fixed(r.time_s * 1e6, 2), fixed(r.algbw_GBps, 2),
                                   fixed(r.busbw_GBps, 2)};
    if (has_profile) {
      cells.push_back(fixed(measured[i]->time_s * 1e6, 2));
      cells.push_back(fixed(busbw_GBps(c, gpus, bytes, measured[i]->time_s), 2));
    }
    cells.push_back(std::string(nccl_algo_name(k.algo)) + "/" + nccl_proto_name(k.proto));
    cells.push_back(fixed(k.time_us, 2));
    cells.push_back(fixed(busbw_GBps(c, gpus, bytes, k.time_us * 1e-6), 2));
    t.add_row(cells);
  }
  return out + t.render();
}

std::string bench_json(const Scenario& s, Collective c, int gpus, const std::vector<BenchRow>& rows) {
  using nlohmann::ordered_json;
  ordered_json list = ordered_json::array();
  const NcclTopology topo = nccl_topology(s.cluster, gpus);
  const std::vector<std::optional<MeasuredTime>> measured = profile_times(s, c, gpus, rows);
  for (size_t i = 0; i < rows.size(); ++i) {
    const BenchRow& r = rows[i];
    const double bytes = static_cast<double>(r.bytes);
    const NcclCost k = nccl_choice(c, topo, bytes, s.cluster);
    ordered_json row = {{"bytes", r.bytes}, {"time_us", r.time_s * 1e6}, {"algbw_GBps", r.algbw_GBps},
                        {"busbw_GBps", r.busbw_GBps}};
    if (measured[i])
      row["profile"] = {{"time_us", measured[i]->time_s * 1e6},
                        {"busbw_GBps", busbw_GBps(c, gpus, bytes, measured[i]->time_s)}};
    row["nccl"] = {{"algorithm", nccl_algo_name(k.algo)}, {"protocol", nccl_proto_name(k.proto)}, {"time_us", k.time_us},
                   {"busbw_GBps", busbw_GBps(c, gpus, bytes, k.time_us * 1e-6)}};
    list.push_back(row);
  }
  ordered_json j = {{"scenario", s.name},
                    {"collective", collective_name(c)},
                    {"gpus", gpus},
                    {"collectives", collective_model_name(s.cluster.collectives)},
                    {"nccl_algo", s.cluster.nccl_algo},
                    {"rows", list}};
  return j.dump(2, ' ', false, ordered_json::error_handler_t::replace) + "\n";
}

}  // namespace spindle
