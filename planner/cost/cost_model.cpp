// Sampling T_m(n) from profile or analytic model, fitting, and the memory feasibility check.
#include "planner/cost/cost_model.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "planner/cost/op_time.h"
#include "planner/cost/profile_points.h"
#include "planner/cost/tensor_parallel.h"
#include "traces/errors.h"
#include "traces/text_table.h"

namespace spindle {

OpShapeKey shape_key(const Operator& op, const ParallelConfig& cfg, const std::string& dtype) {
  OpShapeKey k;
  k.kind = op_kind_name(op.kind);
  k.dtype = dtype;
  k.batch = op.shape.batch / cfg.dp;
  k.seq = op.shape.seq;
  k.hidden = op.shape.hidden;
  k.heads = op.heads;
  k.ffn = op.ffn;
  k.cross_seq = op.cross_seq;
  k.out_hidden = op.out_hidden;
  k.out_seq = op.out_seq;
  k.in_features = op.in_features;
  k.mlp = op.mlp == Mlp::kSwiglu ? 1 : 0;
  k.causal = op.causal ? 1 : 0;
  k.tp = cfg.tp;
  // The contrastive loss scores local rows against the whole gathered batch.
  if (op.kind == OpKind::kContrastiveLoss) k.out_seq = op.shape.batch;
  return k;
}

std::vector<int> valid_device_counts(std::int64_t batch, int max_devices) {
  std::vector<int> out;
  for (int n = 1; n <= max_devices && n <= batch; ++n)
    if (batch % n == 0) out.push_back(n);
  return out;
}

std::vector<int> sampled_tp_degrees(const Scenario& s, const Operator& op) {
  const int max_tp = std::min({s.planner.max_tp, s.cluster.gpus_per_node, s.cluster.gpus()});
  std::vector<int> out;
  for (int tp : kTpDegrees)
    if (tp <= max_tp && s.cluster.gpus_per_node % tp == 0 && tp_unfit(op, tp).empty()) out.push_back(tp);
  return out;
}

std::vector<ParallelConfig> sampled_configs(const Scenario& s, std::int64_t batch, int tp) {
  // Below tp devices the group's shards nest onto fewer GPUs (tp = n, each holding tp / n
  // of the layout's shards: one GPU runs the whole layer), so that n = 1 stays valid.
  std::vector<ParallelConfig> cfgs;
  for (int t = 1; t < tp; t *= 2) cfgs.push_back(ParallelConfig{1, t, s.planner.zero1});
  for (int dp : valid_device_counts(batch, s.cluster.gpus() / tp)) cfgs.push_back(ParallelConfig{dp, tp, s.planner.zero1});
  return cfgs;
}

CostModel::CostModel(const Scenario& s, const Graph& g, const MetaGraph& mg, const Profile* profile)
    : has_profile_(profile != nullptr), zero1_(s.planner.zero1) {
  const GpuSpec& gpu = s.cluster.gpu;
  const Storage storage = device_storage(gpu);
  if (profile != nullptr) check_profile_device(*profile, gpu, s.file);
  const std::optional<ProfilePoints> from_profile =
      profile ? std::optional<ProfilePoints>(ProfilePoints(*profile)) : std::nullopt;
  if (profile != nullptr) {  // a row of an unknown kind would never be found, silently
    std::vector<std::string> kinds;
    for (OpKind k : kOpKinds) kinds.push_back(op_kind_name(k));
    kinds.push_back(kOptimizerKind);
    for (const auto& [key, m] : profile->ops)
      if (std::find(kinds.begin(), kinds.end(), m.key.kind) == kinds.end()) {
        std::string all;
        for (const std::string& k : kinds) all += (all.empty() ? "" : ", ") + k;
        throw InputError(profile->source + ": /ops row for " + m.key.str() + ": kind '" + m.key.kind +
                         "' is not an operator kind; allowed: one of " + all);
      }
  }
  if (from_profile) {
    const auto it = from_profile->curves().find(optimizer_key(0));
    if (it != from_profile->curves().end()) optimizer_ = it->second;
    fits_.emplace(*profile, gpu);
  }
  const std::map<std::string, int> tasks_of = tasks_per_weight_set(g);
  const int gpus = s.cluster.gpus();
  const double capacity = gpu.memory_GiB() * kGiB;
  const double workspace = s.planner.workspace_GiB * kGiB;

  for (const MetaOp& m : mg.metaops) {
    const Operator& op = g.op(m.ops.front());
    const bool shared = !op.weights.empty() && tasks_of.at(op.weight_set) > 1;
    component_of_.push_back(tp_splittable(op) ? op.weight_set : "");
    kind_of_.push_back(op_kind_name(op.kind));
    std::map<int, MetaOpCost> options;
    double fits_best = std::numeric_limits<double>::infinity();
    ParallelConfig fits_best_cfg;
    for (int tp : sampled_tp_degrees(s, op)) {
      MetaOpCost cost;
      cost.tp = tp;
      cost.zero1 = s.planner.zero1;
      std::vector<CurvePoint> points;
      double fits = std::numeric_limits<double>::infinity();
      for (const ParallelConfig& cfg : sampled_configs(s, m.shape.batch, tp)) {
        const int dp = cfg.dp;
        const int n = cfg.devices();
        CurvePoint p;
        p.n = n;
        p.tp = cfg.tp;
        const OpShapeKey key = shape_key(op, cfg, gpu.compute_dtype);
        const BatchCurve::Value measured = from_profile ? from_profile->at(key) : BatchCurve::Value{};
        if (measured.source != PointSource::kAnalytic) {
          p.fwd_s = measured.fwd_ms * 1e-3;
          p.bwd_s = measured.bwd_ms * 1e-3;
          p.measured = true;
          ++cost.measured_points;
        } else {
          OpTime t = analytic_op_time(op, gpu, cfg);
          p.fwd_s = t.fwd_s;
          p.bwd_s = t.bwd_s;
          if (profile) cost.filled.push_back(key.str());
        }
        p.source = measured.source;
        if (const KindFit* fit = fits_ ? fits_->of(key.kind) : nullptr; fit && !p.measured) {
          const OpTime t = fit->time(op, cfg, gpu);
          p.fwd_s = t.fwd_s;
          p.bwd_s = t.bwd_s;
          p.source = PointSource::kScaled;
        }
        const TpReductions red = tp_reductions(op, m.shape.batch / dp, cfg.tp, gpu.activation_bytes());
        for (const auto* list : {&red.fwd, &red.bwd})
          for (std::int64_t bytes : *list) p.tp_comm_s += tp_allreduce_s(static_cast<double>(bytes), cfg.tp, s.cluster);
        p.t_s = p.fwd_s + p.bwd_s + p.tp_comm_s;
        // Weights (this rank's shard) sync over the dp ranks holding the same shard.
        MemoryBreakdown mem = layer_memory(op, m.L, cfg, dp, shared, storage);
        mem.workspace = workspace;
        p.mem_GiB = mem.total() / kGiB;
        if (n == 1) cost.mem_n1 = mem;
        // Spread as far as it goes: gpus / n disjoint groups of n devices share the L layers.
        const int groups = gpus / n;
        const int layers_per_device = (m.L + groups - 1) / groups;
        MemoryBreakdown spread = layer_memory(op, layers_per_device, cfg, dp, shared, storage);
        spread.workspace = workspace;
        fits = std::min(fits, spread.total());
        if (spread.total() < fits_best) {
          fits_best = spread.total();
          fits_best_cfg = cfg;
        }
        points.push_back(p);
      }
      if (points.empty() || fits > capacity) continue;
      cost.flops_only_t1_s = flops_only_time_s(op, gpu, ParallelConfig{});
      cost.min_mem_GiB = points.back().mem_GiB;
      cost.curve = ScalingCurve(std::move(points), static_cast<double>(m.shape.batch));
      options.emplace(tp, std::move(cost));
    }
    if (options.empty()) {
      throw InputError(s.file + ": MetaOp " + std::to_string(m.id) + " (" + op_kind_name(m.kind) + " x" +
                       std::to_string(m.L) + " of " + op.weight_set + ", task " + s.tasks[static_cast<size_t>(op.task)].name +
                       ", " + m.shape.str() + ") needs " + fixed(fits_best / kGiB, 1) + " GiB per GPU even spread over " +
                       std::to_string(gpus) + " GPUs (best at n = " + std::to_string(fits_best_cfg.devices()) +
                       (fits_best_cfg.tp > 1 ? ", tp = " + std::to_string(fits_best_cfg.tp) : "") + ") but a " +
                       gpu.name + " has " + fixed(gpu.memory_GiB(), 1) +
                       " GiB; allowed: smaller batch or sequence, planner.zero1 = true, a larger planner.max_tp, or more GPUs");
    }
    options_.push_back(std::move(options));
  }
  // Each splitting component starts at the smallest degree every one of its MetaOps fits with.
  std::set<std::string> components(component_of_.begin(), component_of_.end());
  components.erase("");
  for (const std::string& c : components) {
    const std::vector<int> opts = tp_options(c);
    if (opts.empty())
      throw InputError(s.file + ": component '" + c + "' has no tensor-parallel degree that every one of its "
                       "MetaOps fits memory with and splits by (heads, ffn); allowed: smaller batch or sequence, "
                       "planner.zero1 = true, or more GPUs");
    layout_[c] = opts.front();
  }
  set_layout(layout_);
}

std::vector<int> CostModel::tp_options(const std::string& component) const {
  std::vector<int> out;
  for (int tp : kTpDegrees) {
    bool all = false;
    for (size_t m = 0; m < options_.size(); ++m) {
      if (component_of_[m] != component) continue;
      all = options_[m].count(tp) > 0;
      if (!all) break;
    }
    if (all) out.push_back(tp);
  }
  return out;
}

CostModel CostModel::with_layout(const std::map<std::string, int>& layout) const {
  CostModel copy = *this;
  copy.set_layout(layout);
  return copy;
}

std::string CostModel::layout_problem(const std::map<std::string, int>& layout) const {
  for (const auto& [c, tp] : layout) {
    if (!layout_.count(c)) return "'" + c + "' is not a component that splits in this scenario";
    const std::vector<int> opts = tp_options(c);
    if (std::find(opts.begin(), opts.end(), tp) == opts.end()) {
      std::string allowed;
      for (int t : opts) allowed += (allowed.empty() ? "" : ", ") + std::to_string(t);
      return "'" + c + "' cannot run at tp " + std::to_string(tp) + " (allowed: " + allowed + ")";
    }
  }
  return "";
}

const CurvePoint* CostModel::point(int metaop, int n, int tp) const {
  for (const auto& [t, option] : options_.at(static_cast<size_t>(metaop)))
    for (const CurvePoint& p : option.curve.points())
      if (p.n == n && p.tp == tp) return &p;
  return nullptr;
}

void CostModel::set_layout(const std::map<std::string, int>& layout) {
  if (const std::string problem = layout_problem(layout); !problem.empty()) throw InternalError(problem);
  for (const auto& [c, tp] : layout) layout_[c] = tp;
  costs_.clear();
  for (size_t m = 0; m < options_.size(); ++m) {
    const int tp = component_of_[m].empty() ? 1 : layout_.at(component_of_[m]);
    costs_.push_back(options_[m].at(tp));
  }
  measured_ = 0;
  sources_.clear();
  std::set<std::string> filled;  // of the layout's configurations only
  for (size_t m = 0; m < costs_.size(); ++m) {
    const MetaOpCost& c = costs_[m];
    measured_ += c.measured_points;
    filled.insert(c.filled.begin(), c.filled.end());
    if (!has_profile_) continue;
    std::array<int, kPointSources>& counts = sources_[kind_of_[m]];
    for (const CurvePoint& p : c.curve.points()) ++counts[static_cast<size_t>(p.source)];
  }
  filled_.assign(filled.begin(), filled.end());
}

}  // namespace spindle
