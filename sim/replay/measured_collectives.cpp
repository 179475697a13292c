// Published nccl-tests results against the simulator and NCCL's model (see measured_collectives.h).
#include "sim/replay/measured_collectives.h"

#include <algorithm>
#include <cmath>

#include "planner/config/config_reader.h"
#include "planner/config/toml_reader.h"
#include "planner/cost/nccl_tuner.h"
#include "sim/replay/collective_bench.h"
#include "traces/errors.h"
#include "traces/text_table.h"

namespace spindle {
namespace {

using config::TableReader;
using config::Value;

std::vector<const Value*> list_of(TableReader& r, const std::string& key, Value::Type type, const std::string& allowed) {
  const Value* v = r.find(key);
  if (v == nullptr) config::fail(r.loc(), r.key_path(key), "missing key", allowed);
  if (v->type() != Value::Type::kArray || v->array().empty())
    config::fail(v->loc(), r.key_path(key), "expected a non-empty list", allowed);
  std::vector<const Value*> out;
  for (const Value& e : v->array()) {
    const bool number = type == Value::Type::kFloat && e.type() == Value::Type::kInteger;
    if (e.type() != type && !number) config::fail(e.loc(), r.key_path(key), "wrong type of element", allowed);
    out.push_back(&e);
  }
  return out;
}

// Median and worst of |a / b - 1| over the rows `keep` selects.
template <typename Keep>
std::pair<double, double> errors(const std::vector<ComparedRow>& rows, double ComparedRow::*field, Keep keep) {
  std::vector<double> e;
  for (const ComparedRow& r : rows)
    if (keep(r) && r.measured_busbw > 0) e.push_back(std::abs(r.*field / r.measured_busbw - 1));
  if (e.empty()) return {-1, -1};
  std::sort(e.begin(), e.end());
  const double median = e.size() % 2 ? e[e.size() / 2] : (e[e.size() / 2 - 1] + e[e.size() / 2]) / 2;
  return {median, e.back()};
}

std::string percent(double x) { return x < 0 ? "-" : fixed(100 * x, 1) + "%"; }

}  // namespace

MeasuredCollective read_measured(const std::filesystem::path& file) {
  MeasuredCollective m;
  m.file = file.string();
  const Value root = config::parse_toml_file(file);
  TableReader top(root, "");
  TableReader r = top.table("measurement");
  m.source = r.string("source", "where the numbers were published (URL, or repository, path and commit)");
  m.date = r.string_or("date", "", "the publication date");
  m.what = r.string("what", "what the numbers are: the program, in-place or out-of-place busbw, versions");
  m.collective = parse_collective(r.choice("collective", {"all_reduce", "all_gather", "reduce_scatter", "broadcast", "sendrecv"}),
                                  "collective");
  m.ranks = static_cast<int>(r.integer("ranks", 2, 1 << 20));
  m.algorithm = r.choice_or("algorithm", "", {"", "ring", "tree", "nvls", "nvls_tree", "pat"});
  for (const Value* v : list_of(r, "set", Value::Type::kString, "cluster settings as --set takes them"))
    m.set.push_back(v->string());
  const auto sizes = list_of(r, "size_B", Value::Type::kInteger, "nccl-tests sizes in bytes");
  const auto busbw = list_of(r, "busbw_GBps", Value::Type::kFloat, "busbw in GB/s, one per size");
  if (sizes.size() != busbw.size())
    config::fail(r.loc_of("busbw_GBps"), r.key_path("busbw_GBps"),
                 std::to_string(busbw.size()) + " values for " + std::to_string(sizes.size()) + " sizes", "one per size");
  for (size_t i = 0; i < sizes.size(); ++i) {
    const double b = busbw[i]->type() == Value::Type::kInteger ? static_cast<double>(busbw[i]->integer()) : busbw[i]->floating();
    if (sizes[i]->integer() < 1 || !(b >= 0) || !std::isfinite(b))
      config::fail(sizes[i]->loc(), r.key_path("size_B"), "a size < 1 or a busbw that is negative or not finite",
                   "sizes >= 1 B and finite busbw >= 0");
    m.rows.emplace_back(sizes[i]->integer(), b);
  }
  r.finish();
  top.finish();
  return m;
}

Comparison compare_measured(const std::filesystem::path& scenario_file, const MeasuredCollective& m,
                            const NetworkOptions& options, const std::vector<std::string>& sets) {
  LoadOptions lo;
  lo.overrides = sets;
  lo.overrides.insert(lo.overrides.end(), m.set.begin(), m.set.end());
  if (!m.algorithm.empty()) lo.overrides.push_back("cluster.nccl_algo=\"" + m.algorithm + "\"");  // NCCL_ALGO
  const Scenario s = load_scenario(scenario_file, lo);
  Comparison c;
  c.measured = m;
  std::vector<std::int64_t> sizes;
  for (const auto& [b, bw] : m.rows) sizes.push_back(b);
  const std::vector<BenchRow> sim = bench_collective(s.cluster, m.collective, m.ranks, options, sizes);
  const NcclTopology topo = nccl_topology(s.cluster, m.ranks);
  for (size_t i = 0; i < sizes.size(); ++i) {
    const double bytes = static_cast<double>(sizes[i]);
    const NcclCost k = nccl_choice(m.collective, topo, bytes, s.cluster);  // the forced algorithm's, if any
    c.rows.push_back(ComparedRow{sizes[i], m.rows[i].second, sim[i].busbw_GBps,
                                 busbw_GBps(m.collective, m.ranks, bytes, k.time_us * 1e-6),
                                 std::string(nccl_algo_name(k.algo)) + "/" + nccl_proto_name(k.proto)});
  }
  auto big = [](const ComparedRow& r) { return r.bytes >= (1 << 20); };
  auto small = [](const ComparedRow& r) { return r.bytes < (64 << 10); };
  std::tie(c.sim_median_big, c.sim_worst_big) = errors(c.rows, &ComparedRow::simulated_busbw, big);
  std::tie(c.model_median_big, c.model_worst_big) = errors(c.rows, &ComparedRow::model_busbw, big);
  std::tie(c.sim_median_small, c.sim_worst_small) = errors(c.rows, &ComparedRow::simulated_busbw, small);
  std::tie(c.model_median_small, c.model_worst_small) = errors(c.rows, &ComparedRow::model_busbw, small);
  return c;
}

std::string comparison_text(const Comparison& c) {
  const MeasuredCollective& m = c.measured;
  std::string out = std::string(collective_name(m.collective)) + " on " + std::to_string(m.ranks) + " ranks: " + m.what +
                    "\n  source: " + m.source + (m.date.empty() ? "" : " (" + m.date + ")") + "\n  settings: " +
                    config::join(m.set, " ") + (m.algorithm.empty() ? "" : "; NCCL_ALGO=" + m.algorithm) + "\n";
  TextTable t;
  for (const char* h : {"size B", "measured busbw", "simulated", "error", "NCCL model", "error", "model algo"})
    t.add_column(h, TextTable::Align::kRight);
  auto err = [](double x, double ref) { return ref > 0 ? fixed(100 * (x / ref - 1), 1) + "%" : std::string("-"); };
  for (const ComparedRow& r : c.rows)
    t.add_row({std::to_string(r.bytes), fixed(r.measured_busbw, 2), fixed(r.simulated_busbw, 2),
               err(r.simulated_busbw, r.measured_busbw), fixed(r.model_busbw, 2), err(r.model_busbw, r.measured_busbw),
               r.model_algo});
  out += t.render();
  out += "  |error| median / worst, >= 1 MiB: simulated " + percent(c.sim_median_big) + " / " + percent(c.sim_worst_big) +
         ", NCCL model " + percent(c.model_median_big) + " / " + percent(c.model_worst_big) + "; < 64 KiB: simulated " +
         percent(c.sim_median_small) + " / " + percent(c.sim_worst_small) + ", NCCL model " +
         percent(c.model_median_small) + " / " + percent(c.model_worst_small) + "\n";
  return out;
}

}  // namespace spindle
