// The analytic model's kernels with the profile's rates (see analytic_fit.h).
#include "planner/cost/analytic_fit.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "planner/cost/profile_points.h"
#include "planner/cost/tensor_parallel.h"

namespace spindle {
namespace {

KernelTerms terms_of(const std::vector<Kernel>& kernels, const GpuSpec& gpu) {
  KernelTerms t{};
  for (const Kernel& k : kernels) {
    t[0] += 1;
    t[1] += kernel_variable_time_s(gpu, k);
  }
  return t;
}

}  // namespace

std::pair<KernelTerms, KernelTerms> kernel_terms(const Operator& op, const ParallelConfig& cfg, const GpuSpec& gpu) {
  std::vector<Kernel> fwd, bwd;
  op_kernels(op, cfg, gpu.activation_bytes(), fwd, bwd);
  return {terms_of(fwd, gpu), terms_of(bwd, gpu)};
}

double KernelFit::at(const KernelTerms& terms) const {
  double s = 0;
  for (size_t j = 0; j < kKernelTerms; ++j) s += seconds_per[j] * terms[j];
  return s;
}

KernelFit KernelFit::fit(const std::vector<KernelTerms>& terms, const std::vector<double>& measured_s) {
  static_assert(kKernelTerms == 2, "the fit below is written out for two terms");
  // Least squares of 1 on z_ij = term_ij / (scale_j m_i) (the relative error of each point;
  // columns scaled to their largest value), for each term alone and both together.
  KernelTerms scale{};
  for (const KernelTerms& t : terms)
    for (size_t j = 0; j < kKernelTerms; ++j) scale[j] = std::max(scale[j], t[j]);
  double zz[2][2] = {{0, 0}, {0, 0}}, z1[2] = {0, 0};
  for (size_t i = 0; i < terms.size(); ++i) {
    double z[2];
    for (size_t j = 0; j < 2; ++j) z[j] = scale[j] > 0 ? terms[i][j] / (scale[j] * measured_s[i]) : 0;
    for (size_t j = 0; j < 2; ++j) {
      z1[j] += z[j];
      for (size_t k = 0; k < 2; ++k) zz[j][k] += z[j] * z[k];
    }
  }
  KernelFit best;
  best.points = static_cast<int>(terms.size());
  double best_sse = std::numeric_limits<double>::infinity();
  auto consider = [&](double c0, double c1) {  // coefficients of the scaled columns; 0: unused
    if (c0 < 0 || c1 < 0 || !(c0 + c1 > 0)) return;
    KernelFit f;
    f.points = best.points;
    f.seconds_per = {c0 > 0 ? c0 / scale[0] : 0, c1 > 0 ? c1 / scale[1] : 0};
    double sse = 0;
    for (size_t i = 0; i < terms.size(); ++i) {
      const double e = f.at(terms[i]) / measured_s[i] - 1;
      sse += e * e;
      f.max_error = std::max(f.max_error, std::abs(e));
    }
    if (sse < best_sse * (1 - 1e-9)) best_sse = sse, best = f;
  };
  if (scale[0] > 0) consider(z1[0] / zz[0][0], 0);
  if (scale[1] > 0) consider(0, z1[1] / zz[1][1]);
  // Both terms: with at least one point more than terms.
  const double det = zz[0][0] * zz[1][1] - zz[0][1] * zz[1][0];
  if (terms.size() >= 3 && scale[0] > 0 && scale[1] > 0 && std::abs(det) >= 1e-12) {
    const double c0 = (z1[0] * zz[1][1] - zz[0][1] * z1[1]) / det, c1 = (zz[0][0] * z1[1] - zz[1][0] * z1[0]) / det;
    if (c0 > 0 && c1 > 0) consider(c0, c1);
  }
  if (!std::isfinite(best_sse)) best.points = 0;  // no term fits (no kernels at all)
  return best;
}

OpTime KindFit::time(const Operator& op, const ParallelConfig& cfg, const GpuSpec& gpu) const {
  const auto [f, b] = kernel_terms(op, cfg, gpu);
  return OpTime{fwd.at(f), bwd.at(b)};
}

std::optional<std::pair<Operator, ParallelConfig>> operator_of(const OpShapeKey& key) {
  const std::optional<OpKind> kind = op_kind_of(key.kind);
  if (!kind || key.batch < 1 || key.tp < 1) return std::nullopt;
  Operator op;
  op.kind = *kind;
  op.name = key.str();
  op.shape = Shape{key.batch, key.seq, key.hidden};
  op.heads = static_cast<int>(key.heads);
  op.ffn = static_cast<int>(key.ffn);
  op.mlp = key.mlp == 1 ? Mlp::kSwiglu : Mlp::kGelu;
  op.causal = key.causal != 0;
  op.cross_seq = key.cross_seq;
  op.out_hidden = key.out_hidden;
  op.out_seq = key.out_seq;
  op.in_features = key.in_features;
  ParallelConfig cfg{1, static_cast<int>(key.tp), false};
  if (op.kind == OpKind::kContrastiveLoss) {  // key.batch rows of a global batch of key.out_seq
    if (key.out_seq < key.batch || key.out_seq % key.batch != 0) return std::nullopt;
    op.shape.batch = key.out_seq;
    op.out_seq = 1;
    cfg.dp = static_cast<int>(key.out_seq / key.batch);
  }
  if (cfg.tp > 1 && !tp_unfit(op, cfg.tp).empty()) return std::nullopt;
  return std::make_pair(op, cfg);
}

AnalyticFits::AnalyticFits(const Profile& profile, const GpuSpec& gpu) {
  const std::string& dtype = gpu.compute_dtype;
  struct Samples {
    std::vector<KernelTerms> fwd_terms, bwd_terms;
    std::vector<double> fwd, bwd;
    std::vector<OpShapeKey> shapes;  // distinct shapes (batch 0)
  };
  std::map<std::string, Samples> by_kind;
  for (const auto& [key, m] : profile.ops) {
    if (key.kind == kOptimizerKind || key.dtype != dtype || !(m.fwd_ms > 0) || !(m.bwd_ms > 0)) continue;
    const auto oc = operator_of(key);
    if (!oc) continue;
    const auto [f, b] = kernel_terms(oc->first, oc->second, gpu);
    Samples& s = by_kind[key.kind];
    OpShapeKey shape = key;
    shape.batch = 0;
    if (std::find(s.shapes.begin(), s.shapes.end(), shape) == s.shapes.end()) s.shapes.push_back(shape);
    s.fwd_terms.push_back(f);
    s.bwd_terms.push_back(b);
    s.fwd.push_back(m.fwd_ms * 1e-3);
    s.bwd.push_back(m.bwd_ms * 1e-3);
  }
  for (const auto& [kind, s] : by_kind) {
    if (s.shapes.size() < kMinFitShapes) continue;
    KindFit k{KernelFit::fit(s.fwd_terms, s.fwd), KernelFit::fit(s.bwd_terms, s.bwd)};
    if (k.fwd.points > 0 && k.bwd.points > 0) fits_[kind] = k;
  }
}

const KindFit* AnalyticFits::of(const std::string& kind) const {
  const auto it = fits_.find(kind);
  return it == fits_.end() ? nullptr : &it->second;
}

}  // namespace spindle
