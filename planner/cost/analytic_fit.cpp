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
  const double peak = gpu.bf16_dense_TFLOPS * 1e12;
  for (const Kernel& k : kernels) {
    t[0] += 1;
    double compute = 0;
    if (k.type == Kernel::Type::kGemm)
      compute = k.flops * (1 + gpu.gemm_half_dim / std::min({k.m, k.n, k.k})) / (peak * gpu.gemm_peak_efficiency);
    else if (k.type == Kernel::Type::kAttention)
      compute = k.flops / (peak * gpu.attention_efficiency);
    t[1] += std::max(compute, k.bytes / (gpu.hbm_bw_GBps * 1e9 * gpu.hbm_efficiency));
  }
  return t;
}

// Solves a (n x n, n <= kKernelTerms) x = b by Gaussian elimination with partial pivoting; false
// when singular.
bool solve(std::array<std::array<double, kKernelTerms>, kKernelTerms> a, std::array<double, kKernelTerms> b, size_t n,
           std::array<double, kKernelTerms>& x) {
  for (size_t c = 0; c < n; ++c) {
    size_t p = c;
    for (size_t r = c + 1; r < n; ++r)
      if (std::abs(a[r][c]) > std::abs(a[p][c])) p = r;
    if (std::abs(a[p][c]) < 1e-12) return false;
    std::swap(a[p], a[c]);
    std::swap(b[p], b[c]);
    for (size_t r = c + 1; r < n; ++r) {
      const double f = a[r][c] / a[c][c];
      for (size_t k = c; k < n; ++k) a[r][k] -= f * a[c][k];
      b[r] -= f * b[c];
    }
  }
  for (size_t c = n; c-- > 0;) {
    double s = b[c];
    for (size_t k = c + 1; k < n; ++k) s -= a[c][k] * x[k];
    x[c] = s / a[c][c];
  }
  return true;
}

}  // namespace

std::pair<KernelTerms, KernelTerms> kernel_terms(const Operator& op, const ParallelConfig& cfg, const GpuSpec& gpu) {
  std::vector<Kernel> fwd, bwd;
  op_kernels(op, cfg, fwd, bwd);
  return {terms_of(fwd, gpu), terms_of(bwd, gpu)};
}

double KernelFit::at(const KernelTerms& terms) const {
  double s = 0;
  for (size_t j = 0; j < kKernelTerms; ++j) s += seconds_per[j] * terms[j];
  return s;
}

KernelFit KernelFit::fit(const std::vector<KernelTerms>& terms, const std::vector<double>& measured_s) {
  // Columns scaled to their largest value (FLOPs and bytes are 10^6 times the kernel counts).
  KernelTerms scale{};
  for (const KernelTerms& t : terms)
    for (size_t j = 0; j < kKernelTerms; ++j) scale[j] = std::max(scale[j], t[j]);
  const size_t points = terms.size();
  const size_t most = std::max<size_t>(1, points - 1);
  KernelFit best;
  best.points = static_cast<int>(points);
  double best_sse = std::numeric_limits<double>::infinity();
  for (unsigned mask = 1; mask < (1u << kKernelTerms); ++mask) {
    std::array<size_t, kKernelTerms> cols{};
    size_t n = 0;
    bool usable = true;
    for (size_t j = 0; j < kKernelTerms; ++j)
      if (mask & (1u << j)) {
        usable = usable && scale[j] > 0;
        cols[n++] = j;
      }
    if (!usable || n > most) continue;
    // Least squares of 1 on z_ij = term_ij / (scale_j m_i): the relative error of each point.
    std::array<std::array<double, kKernelTerms>, kKernelTerms> ztz{};
    std::array<double, kKernelTerms> zt1{}, c{};
    for (size_t i = 0; i < points; ++i)
      for (size_t p = 0; p < n; ++p) {
        const double zp = terms[i][cols[p]] / (scale[cols[p]] * measured_s[i]);
        zt1[p] += zp;
        for (size_t q = 0; q < n; ++q) ztz[p][q] += zp * terms[i][cols[q]] / (scale[cols[q]] * measured_s[i]);
      }
    if (!solve(ztz, zt1, n, c)) continue;
    if (std::any_of(c.begin(), c.begin() + static_cast<std::ptrdiff_t>(n), [](double v) { return !(v > 0); })) continue;
    KernelFit f;
    f.points = best.points;
    for (size_t p = 0; p < n; ++p) f.seconds_per[cols[p]] = c[p] / scale[cols[p]];
    double sse = 0;
    for (size_t i = 0; i < points; ++i) {
      const double e = f.at(terms[i]) / measured_s[i] - 1;
      sse += e * e;
      f.max_error = std::max(f.max_error, std::abs(e));
    }
    if (sse < best_sse * (1 - 1e-9)) best_sse = sse, best = f;
  }
  if (!std::isfinite(best_sse)) best.points = 0;  // no term fits (no kernels at all)
  return best;
}

OpTime KindFit::time(const Operator& op, const ParallelConfig& cfg, const GpuSpec& gpu) const {
  const auto [f, b] = kernel_terms(op, cfg, gpu);
  return OpTime{fwd.at(f), bwd.at(b)};
}

std::optional<std::pair<Operator, ParallelConfig>> operator_of(const OpShapeKey& key) {
  Operator op;
  bool known = false;
  for (OpKind k : {OpKind::kPatchEmbed, OpKind::kTokenEmbed, OpKind::kEncoderLayer, OpKind::kDecoderLayer,
                   OpKind::kCrossAttention, OpKind::kProjectionHead, OpKind::kContrastiveLoss, OpKind::kLmHead})
    if (key.kind == op_kind_name(k)) op.kind = k, known = true;
  if (!known || key.batch < 1 || key.tp < 1) return std::nullopt;
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
