// Sampling T_m(n) from profile or analytic model, fitting, and the memory feasibility check.
#include "planner/cost/cost_model.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "planner/cost/op_time.h"
#include "traces/errors.h"
#include "traces/text_table.h"

namespace spindle {

OpShapeKey shape_key(const Operator& op, const ParallelConfig& cfg) {
  OpShapeKey k;
  k.kind = op_kind_name(op.kind);
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

CostModel::CostModel(const Scenario& s, const Graph& g, const MetaGraph& mg, const Profile* profile)
    : has_profile_(profile != nullptr) {
  const GpuSpec& gpu = s.cluster.gpu;
  if (profile != nullptr && profile->gpu != gpu.name)
    throw InputError((profile->source.empty() ? "" : profile->source + ": ") + "profile measured on '" + profile->gpu +
                     "' but " + s.file + " runs on '" + gpu.name +
                     "'; allowed: a profile of the scenario's GPU");
  if (profile != nullptr) {  // a row of an unknown kind would never be found, silently
    std::vector<std::string> kinds;
    for (OpKind k : {OpKind::kPatchEmbed, OpKind::kTokenEmbed, OpKind::kEncoderLayer, OpKind::kDecoderLayer,
                     OpKind::kCrossAttention, OpKind::kProjectionHead, OpKind::kContrastiveLoss, OpKind::kLmHead})
      kinds.push_back(op_kind_name(k));
    for (const OpMeasurement& m : profile->ops)
      if (std::find(kinds.begin(), kinds.end(), m.key.kind) == kinds.end()) {
        std::string all;
        for (const std::string& k : kinds) all += (all.empty() ? "" : ", ") + k;
        throw InputError(profile->source + ": /ops row for " + m.key.str() + ": kind '" + m.key.kind +
                         "' is not an operator kind; allowed: one of " + all);
      }
  }
  const std::map<std::string, int> tasks_of = tasks_per_weight_set(g);
  const int gpus = s.cluster.gpus();
  const double capacity = gpu.memory_GiB() * kGiB;
  const double workspace = s.planner.workspace_GiB * kGiB;
  std::set<std::string> filled;

  for (const MetaOp& m : mg.metaops) {
    const Operator& op = g.op(m.ops.front());
    const bool shared = !op.weights.empty() && tasks_of.at(op.weight_set) > 1;
    MetaOpCost cost;
    cost.zero1 = s.planner.zero1;
    std::vector<CurvePoint> points;
    double fits_best = std::numeric_limits<double>::infinity();
    int fits_best_n = 1;
    for (int n : valid_device_counts(m.shape.batch, gpus)) {
      ParallelConfig cfg{n, 1, s.planner.zero1};
      CurvePoint p;
      p.n = n;
      const OpMeasurement* measured = profile ? profile->find(shape_key(op, cfg)) : nullptr;
      if (measured != nullptr) {
        p.fwd_s = measured->fwd_ms * 1e-3;
        p.bwd_s = measured->bwd_ms * 1e-3;
        p.measured = true;
        ++cost.measured_points;
      } else {
        OpTime t = analytic_op_time(op, gpu, cfg);
        p.fwd_s = t.fwd_s;
        p.bwd_s = t.bwd_s;
        if (profile) filled.insert(shape_key(op, cfg).str());
      }
      p.t_s = p.fwd_s + p.bwd_s;
      MemoryBreakdown mem = layer_memory(op, m.L, cfg, n, shared);
      mem.workspace = workspace;
      p.mem_GiB = mem.total() / kGiB;
      if (n == 1) cost.mem_n1 = mem;
      // Spread as far as it goes: gpus / n disjoint groups of n devices share the L layers.
      const int groups = gpus / n;
      const int layers_per_device = (m.L + groups - 1) / groups;
      MemoryBreakdown spread = layer_memory(op, layers_per_device, cfg, n, shared);
      spread.workspace = workspace;
      if (spread.total() < fits_best) {
        fits_best = spread.total();
        fits_best_n = n;
      }
      points.push_back(p);
    }
    if (fits_best > capacity) {
      throw InputError(s.file + ": MetaOp " + std::to_string(m.id) + " (" + op_kind_name(m.kind) + " x" +
                       std::to_string(m.L) + " of " + op.weight_set + ", task " + s.tasks[static_cast<size_t>(op.task)].name +
                       ", " + m.shape.str() + ") needs " + fixed(fits_best / kGiB, 1) + " GiB per GPU even spread over " +
                       std::to_string(gpus) + " GPUs (best at n = " + std::to_string(fits_best_n) + ") but a " +
                       gpu.name + " has " + fixed(gpu.memory_GiB(), 1) +
                       " GiB; allowed: smaller batch or sequence, planner.zero1 = true, or more GPUs");
    }
    cost.flops_only_t1_s = flops_only_time_s(op, gpu, ParallelConfig{});
    cost.min_mem_GiB = points.back().mem_GiB;
    measured_ += cost.measured_points;
    cost.curve = ScalingCurve(std::move(points), static_cast<double>(m.shape.batch));
    costs_.push_back(std::move(cost));
  }
  filled_.assign(filled.begin(), filled.end());
}

}  // namespace spindle
