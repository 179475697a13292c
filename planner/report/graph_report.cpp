// Text, JSON and Graphviz renderings of a scenario's graph and MetaGraph.
#include "planner/report/graph_report.h"

#include <algorithm>
#include <map>
#include <vector>

#include <nlohmann/json.hpp>

#include "planner/config/config_reader.h"
#include "planner/graph/metaop_json.h"
#include "planner/graph/param_count.h"
#include "planner/report/cost_report.h"
#include "traces/text_table.h"

namespace spindle {
namespace {

using Align = TextTable::Align;

std::string task_names(const Scenario& s, const std::vector<int>& tasks) {
  std::string out;
  for (size_t i = 0; i < tasks.size(); ++i) out += (i ? "," : "") + s.tasks[static_cast<size_t>(tasks[i])].name;
  return out;
}


std::string gflop(double flops) { return fixed(flops / 1e9, 3); }

std::string dim(int v) { return v > 0 ? std::to_string(v) : "-"; }

// A string as the inside of a quoted Graphviz label.
std::string dot_escape(const std::string& s) {
  std::string out;
  for (char ch : s) {
    if (ch == '"' || ch == '\\') out += '\\';
    out += ch == '\n' ? ' ' : ch;
  }
  return out;
}

}  // namespace

std::string summary_text(const Scenario& s, const Graph& g, const MetaGraph& mg) {
  const Cluster& c = s.cluster;
  ParamCount params = count_params(s, g);
  std::string out;
  out += "Scenario  " + s.name + "  (" + s.file + ", seed " + std::to_string(s.seed) + ")\n";
  out += "Cluster   " + std::to_string(c.nodes) + " nodes x " + std::to_string(c.gpus_per_node) + " " +
         c.gpu.name + " = " + std::to_string(c.gpus()) + " GPUs; intra-node " + fixed(c.intra_node.bw_GBps, 1) +
         " GB/s, " + fixed(c.intra_node.latency_us, 1) + " us; inter-node " + fixed(c.inter_node.bw_GBps, 1) +
         " GB/s, " + fixed(c.inter_node.latency_us, 1) + " us\n";
  out += "Model     " + s.model.name + ": " + std::to_string(params.per_component.size()) + " components used, " +
         with_commas(params.total) + " parameters (" + billions(params.total) + ")\n\n";

  TextTable comps;
  for (auto [h, a] : std::vector<std::pair<const char*, Align>>{
           {"component", Align::kLeft}, {"kind", Align::kLeft}, {"layers", Align::kRight},
           {"hidden", Align::kRight}, {"heads", Align::kRight}, {"ffn", Align::kRight},
           {"input", Align::kLeft}, {"params", Align::kRight}, {"tasks", Align::kRight}})
    comps.add_column(h, a);
  for (const auto& [name, p] : params.per_component) {
    int ci = s.model.index_of(name);
    const Component& cm = s.model.components[static_cast<size_t>(ci)];
    int used = 0;
    for (const Task& t : s.tasks) used += s.task_uses(t, ci) ? 1 : 0;
    std::string input = cm.has_embedding() ? std::string(embedding_name(cm.embedding)) + " x " + std::to_string(cm.tokens)
                                           : "";
    if (!cm.tie_embedding.empty()) input += (input.empty() ? "" : " ") + std::string("tied:") + cm.tie_embedding;
    for (const std::string& i : cm.inputs) input += (input.empty() ? "" : " ") + std::string("<") + i;
    comps.add_row({name, component_kind_name(cm.kind), dim(cm.layers), dim(cm.hidden), dim(cm.heads), dim(cm.ffn),
                   input, with_commas(p), std::to_string(used)});
  }
  comps.add_row({"total", "", "", "", "", "", "", with_commas(params.total), ""});
  out += "Components\n" + comps.render() + "\n";

  TextTable tasks;
  for (auto [h, a] : std::vector<std::pair<const char*, Align>>{
           {"task", Align::kLeft}, {"batch", Align::kRight}, {"loss", Align::kLeft}, {"components", Align::kLeft}})
    tasks.add_column(h, a);
  for (const Task& t : s.tasks) {
    std::string names;
    for (int ci : t.components) {
      names += (names.empty() ? "" : " ") + s.model.components[static_cast<size_t>(ci)].name;
      auto it = t.tokens.find(ci);
      if (it != t.tokens.end()) names += "(" + std::to_string(it->second) + " tok)";
    }
    tasks.add_row({t.name, std::to_string(t.batch), loss_kind_name(t.loss), names});
  }
  out += "Tasks\n" + tasks.render() + "\n";

  out += "Graph     " + with_commas(g.size()) + " operators, " + with_commas(static_cast<std::int64_t>(g.edges().size())) +
         " edges -> " + std::to_string(mg.metaops.size()) + " MetaOps on " + std::to_string(mg.levels) +
         " MetaLevels\n\n";
  TextTable metas;
  for (auto [h, a] : std::vector<std::pair<const char*, Align>>{
           {"id", Align::kRight}, {"level", Align::kRight}, {"kind", Align::kLeft}, {"component", Align::kLeft},
           {"tasks", Align::kLeft}, {"shape", Align::kLeft}, {"L", Align::kRight},
           {"GFLOP/op fwd", Align::kRight}, {"bwd", Align::kRight}, {"preds", Align::kLeft}})
    metas.add_column(h, a);
  for (const MetaOp& m : mg.metaops) {
    std::string preds;
    for (int p : m.preds) preds += (preds.empty() ? "" : ",") + std::to_string(p);
    metas.add_row({std::to_string(m.id), std::to_string(m.level), op_kind_name(m.kind), component_name(s, m),
                   task_names(s, m.tasks), m.shape.str(), std::to_string(m.L), gflop(m.per_op.fwd_flops),
                   gflop(m.per_op.bwd_flops), preds});
  }
  out += "MetaOps\n" + metas.render();
  return out;
}

namespace {

// Per task and MetaOp kind of a component ("llm/decoder_layer"), the (dp, tp) its slices run
// with ("dp8 x tp4"; several, comma-separated, where its slices differ), in first-use order.
nlohmann::ordered_json slice_configs(const Scenario& s, const MetaGraph& mg, const Plan& plan) {
  using nlohmann::ordered_json;
  std::map<std::string, std::map<std::string, std::vector<std::string>>> seen;
  for (const Wave& w : plan.waves)
    for (const Slice& sl : w.slices) {
      const MetaOp& m = mg.metaops[static_cast<size_t>(sl.metaop)];
      const std::string config = "dp" + std::to_string(sl.dp()) + " x tp" + std::to_string(sl.tp);
      for (int t : m.tasks) {
        auto& v = seen[s.tasks[static_cast<size_t>(t)].name][component_name(s, m) + "/" + op_kind_name(m.kind)];
        if (std::find(v.begin(), v.end(), config) == v.end()) v.push_back(config);
      }
    }
  ordered_json out = ordered_json::object();
  for (const Task& t : s.tasks) {
    auto it = seen.find(t.name);
    if (it == seen.end()) continue;
    ordered_json per = ordered_json::object();
    for (const auto& [component, configs] : it->second) per[component] = config::join(configs);
    out[t.name] = per;
  }
  return out;
}

}  // namespace

std::string summary_json(const Scenario& s, const Graph& g, const MetaGraph& mg, const CostModel* cost,
                         const std::string& profile_file, const std::vector<PlannedSystem>* systems) {
  using nlohmann::ordered_json;
  const Cluster& c = s.cluster;
  ParamCount params = count_params(s, g);
  ordered_json j;
  j["format_version"] = kSummaryFormatVersion;
  j["scenario"] = {{"name", s.name}, {"file", s.file}, {"seed", s.seed}};
  j["cluster"] = {{"nodes", c.nodes},
                  {"gpus_per_node", c.gpus_per_node},
                  {"gpu", c.gpu.id},
                  {"intra_node", {{"bw_GBps", c.intra_node.bw_GBps}, {"latency_us", c.intra_node.latency_us}}},
                  {"inter_node", {{"bw_GBps", c.inter_node.bw_GBps}, {"latency_us", c.inter_node.latency_us}}}};
  j["gpus"] = c.gpus();
  ordered_json per = ordered_json::object();
  for (const auto& [name, p] : params.per_component) per[name] = p;
  j["params"] = {{"total", params.total}, {"components", per}};
  ordered_json tasks = ordered_json::array();
  for (const Task& t : s.tasks) {
    ordered_json names = ordered_json::array();
    for (int ci : t.components) names.push_back(s.model.components[static_cast<size_t>(ci)].name);
    tasks.push_back({{"name", t.name}, {"batch", t.batch}, {"loss", loss_kind_name(t.loss)}, {"components", names}});
  }
  j["tasks"] = tasks;
  j["operators"] = g.size();
  j["edges"] = g.edges().size();
  j["levels"] = mg.levels;
  ordered_json metas = ordered_json::array();
  for (const MetaOp& m : mg.metaops) {
    ordered_json e = metaop_json(s, m);
    e["flops"] = {{"fwd", m.per_op.fwd_flops}, {"bwd", m.per_op.bwd_flops}};
    e["params"] = m.per_op.params;
    e["activation_bytes"] = m.per_op.activation_bytes;
    e["preds"] = m.preds;
    metas.push_back(e);
    if (cost != nullptr) {
      const MetaOpCost& mc = cost->metaop(m.id);
      ordered_json curve = ordered_json::array();
      for (const CurvePoint& p : mc.curve.points()) {
        curve.push_back({{"n", p.n}, {"dp", p.n / p.tp}, {"tp", p.tp}, {"t_s", p.t_s}, {"fwd_s", p.fwd_s},
                         {"bwd_s", p.bwd_s}, {"tp_comm_s", p.tp_comm_s}, {"measured", p.measured}, {"mem_GiB", p.mem_GiB}});
        if (p.source != PointSource::kAnalytic) curve.back()["source"] = point_source_name(p.source);
      }
      ordered_json pieces = ordered_json::array();
      for (const CurvePiece& p : mc.curve.pieces())
        pieces.push_back({{"w_from", p.w_from}, {"alpha_s", p.alpha}, {"beta_s", p.beta}});
      ordered_json& entry = metas.back();
      entry["curve"] = curve;
      entry["config"] = {{"dp", mc.tp > 1 ? "n/" + std::to_string(mc.tp) : std::string("n")}, {"tp", mc.tp},
                         {"zero1", mc.zero1}};
      entry["mem_GiB"] = mc.min_mem_GiB;
      entry["fit"] = {{"max_error", mc.curve.fit_error()},
                  {"envelope_correction", mc.curve.envelope_correction()},
                  {"pieces", pieces}};
      entry["flops_only_t1_s"] = mc.flops_only_t1_s;
    }
  }
  j["metaops"] = metas;
  if (cost != nullptr) {
    j["cost_model"] = {{"source", cost->has_profile() ? "profile" : "analytic"},
                       {"profile", profile_file},
                       {"measured_points", cost->measured_points()},
                       {"filled", cost->filled_keys()}};
    if (cost->has_profile()) {  // per operator kind: where the samples of the layout came from
      ordered_json sources = ordered_json::object();
      for (const auto& [kind, counts] : cost->source_counts()) {
        ordered_json by = ordered_json::object();
        for (PointSource src : {PointSource::kMeasured, PointSource::kInterpolated, PointSource::kExtrapolated,
                                PointSource::kScaled, PointSource::kAnalytic})
          by[point_source_name(src)] = counts[static_cast<size_t>(src)];
        sources[kind] = by;
      }
      j["cost_model"]["sources"] = sources;
      // Per kind: seconds per kernel and per second of the kernels' analytic variable time.
      ordered_json fits = ordered_json::object();
      for (const auto& [kind, k] : cost->analytic_fits()->kinds()) {
        auto one = [](const KernelFit& x) {
          return ordered_json{{"s_per_kernel", x.seconds_per[0]},
                              {"per_analytic_s", x.seconds_per[1]},
                              {"max_error", x.max_error}};
        };
        fits[kind] = {{"points", k.fwd.points}, {"fwd", one(k.fwd)}, {"bwd", one(k.bwd)}};
      }
      j["cost_model"]["analytic_fits"] = fits;
      j["cost_model"]["optimizer"] = optimizer_source(*cost);
    }
  }
  if (systems != nullptr && !systems->empty()) {
    ordered_json list = ordered_json::array();
    for (const PlannedSystem& ps : *systems)
      list.push_back({{"name", ps.placement_label.empty() ? ps.plan.system : ps.plan.system + "." + ps.placement_label},
                      {"system", ps.plan.system},
                      {"planned_s", ps.plan.planned_s},
                      {"estimated_s", ps.estimated_s},
                      {"cstar_s", ps.plan.cstar_s},
                      {"cstar_valid_s", ps.plan.cstar_valid_s},
                      {"lower_bound_s", ps.plan.lower_bound_s},
                      {"planning_s", ps.planning_s >= 0 ? ordered_json(ps.planning_s) : ordered_json(nullptr)},
                      {"peak_slice_GiB", ps.plan.peak_slice_GiB},
                      {"placement", ps.placement_label.empty() ? "spindle" : ps.placement_label},
                      {"transfer_bytes",
                       {{"intra_node", ps.placement.transfer_intra_bytes}, {"inter_node", ps.placement.transfer_inter_bytes}}},
                      {"sync_bytes", {{"intra_node", ps.placement.sync_intra_bytes}, {"inter_node", ps.placement.sync_inter_bytes}}},
                      {"peak_mem_GiB", ps.placement.peak_mem_GiB},
                      {"over_memory_devices", ps.placement.over_memory_devices},
                      {"placement_backtracks", ps.placement.backtracks},
                      {"placement_in_order_kept", ps.placement.in_order_kept},
                      {"placement_topology_repairs", ps.placement.topology_repairs},
                      {"schedule_from", ps.plan.schedule_from},
                      {"sync", ps.plan.sync.text()},
                      {"tp", ps.plan.tp},
                      {"zero1", ps.plan.zero1},
                      {"configs", slice_configs(s, mg, ps.plan)},
                      {"waves", ps.plan.waves.size()}});
    j["systems"] = list;
  }
  return j.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

std::string graph_dot(const Scenario& s, const Graph& g) {
  std::string out = "digraph G {\n  rankdir=LR;\n  node [shape=box, fontsize=10];\n";
  for (size_t t = 0; t < s.tasks.size(); ++t) {
    out += "  subgraph cluster_" + std::to_string(t) + " {\n    label=\"" + dot_escape(s.tasks[t].name) + "\";\n";
    for (const Operator& op : g.ops())
      if (op.task == static_cast<int>(t))
        out += "    n" + std::to_string(op.id) + " [label=\"" + dot_escape(op.name) + "\\n" + op_kind_name(op.kind) + " " +
               op.shape.str() + "\"];\n";
    out += "  }\n";
  }
  for (const Edge& e : g.edges())
    out += "  n" + std::to_string(e.from) + " -> n" + std::to_string(e.to) + (e.side ? " [style=dashed]" : "") + ";\n";
  return out + "}\n";
}

std::string metagraph_dot(const Scenario& s, const MetaGraph& mg) {
  std::string out = "digraph GM {\n  rankdir=LR;\n  node [shape=box, fontsize=10];\n";
  for (int level = 1; level <= mg.levels; ++level) {
    out += "  { rank=same;";
    for (const MetaOp& m : mg.metaops)
      if (m.level == level) out += " m" + std::to_string(m.id) + ";";
    out += " }\n";
  }
  for (const MetaOp& m : mg.metaops)
    out += "  m" + std::to_string(m.id) + " [label=\"M" + std::to_string(m.id) + " " + dot_escape(component_name(s, m)) + " x" +
           std::to_string(m.L) + "\\n" + op_kind_name(m.kind) + " " + m.shape.str() + "\\n" + dot_escape(task_names(s, m.tasks)) +
           "\"];\n";
  for (const MetaOp& m : mg.metaops)
    for (int p : m.preds) out += "  m" + std::to_string(p) + " -> m" + std::to_string(m.id) + ";\n";
  return out + "}\n";
}

}  // namespace spindle
