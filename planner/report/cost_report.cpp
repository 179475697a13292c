// Text rendering of the cost model (see cost_report.h).
#include "planner/report/cost_report.h"

#include <array>
#include <cmath>

#include "planner/graph/metaop_json.h"
#include "traces/text_table.h"

namespace spindle {
namespace {

std::string ms(double s) { return fixed(s * 1e3, 3); }

// "1.20 us/kernel + 2.030 x analytic": the terms a fit uses.
std::string kernel_rates_text(const KernelFit& f) {
  std::string out;
  auto add = [&](const std::string& t) { out += (out.empty() ? "" : " + ") + t; };
  const KernelTerms& c = f.seconds_per;
  if (c[0] > 0) add(fixed(c[0] * 1e6, 2) + " us/kernel");
  if (c[1] > 0) add(fixed(c[1], 3) + " x analytic");
  return out;
}

}  // namespace

std::string cost_text(const Scenario& s, const Graph& g, const MetaGraph& mg, const CostModel& cost,
                      const std::string& profile_file) {
  const GpuSpec& gpu = s.cluster.gpu;
  std::string out = "Cost model  " + gpu.name + ": " + (gpu.bf16_dense_TFLOPS >= 1 ? fixed(gpu.bf16_dense_TFLOPS, 0) : fixed(gpu.bf16_dense_TFLOPS, 3)) +
                    " TFLOP/s " + gpu.compute_dtype + ", " +
                    fixed(gpu.hbm_bw_GBps, 0) + " GB/s HBM, " + fixed(gpu.memory_GiB(), 1) + " GiB; ";
  if (cost.has_profile()) {
    int measured = 0;
    for (const auto& [kind, counts] : cost.source_counts()) measured += counts[static_cast<size_t>(PointSource::kMeasured)];
    out += "profile " + profile_file + ": " + std::to_string(measured) + " measured points used, " +
           std::to_string(cost.measured_points() - measured) + " more interpolated or extrapolated from them, " +
           std::to_string(cost.filled_keys().size()) + " shapes filled in by the analytic model\n";
  } else {
    out += "analytic (no profile)\n";
  }
  out += "T = one operator, forward + backward (+ its TP all-reduces), at local batch = batch / dp on n = dp x tp"
         " devices (" + std::string(cost.zero1() ? "ZeRO-1, " : "") + "tp: the component's degree, or n below it" +
         "); valid n: dp divides the batch, up to " + std::to_string(s.cluster.gpus()) +
         " GPUs; memory per device holds the MetaOp's L layers.\n\n";

  TextTable t;
  using A = TextTable::Align;
  for (auto [h, a] : std::vector<std::pair<const char*, A>>{
           {"id", A::kRight}, {"component", A::kLeft}, {"task", A::kLeft}, {"kind", A::kLeft}, {"L", A::kRight},
           {"T(1) ms", A::kRight}, {"FLOPs-only", A::kRight}, {"max n", A::kRight}, {"T(max n) ms", A::kRight},
           {"T(1)/T(max n)", A::kRight}, {"config", A::kLeft}, {"pieces", A::kRight}, {"fit err", A::kRight},
           {"GiB n=1", A::kRight}, {"GiB max n", A::kRight}})
    t.add_column(h, a);
  for (const MetaOp& m : mg.metaops) {
    const MetaOpCost& c = cost.metaop(m.id);
    const ScalingCurve& curve = c.curve;
    const int nmax = curve.max_n();
    const double t1 = curve.time_s(1), tn = curve.time_s(nmax);
    t.add_row({std::to_string(m.id), component_name(s, m),
               s.tasks[static_cast<size_t>(m.tasks.front())].name, op_kind_name(m.kind), std::to_string(m.L), ms(t1),
               ms(c.flops_only_t1_s), std::to_string(nmax), ms(tn), fixed(t1 / tn, 2) + "x",
               (c.tp > 1 ? "dp=n/" + std::to_string(c.tp) + " tp=" + std::to_string(c.tp) : std::string("dp=n")) +
                   (c.zero1 ? " zero1" : ""), std::to_string(curve.pieces().size()),
               fixed(100 * curve.fit_error(), 1) + "%", fixed(curve.points().front().mem_GiB, 2),
               fixed(curve.points().back().mem_GiB, 2)});
  }
  out += "MetaOp costs\n" + t.render() + "\n";

  out += "Scaling curves: n: T ms (T(1)/T(n)) of the fitted curve; * = measured, ~ = between or beyond measured\n"
         "batches of the shape (profile's alpha-beta fit); [sampled] where a sample\n"
         "differs by more than 2.5% (slower than at fewer devices: those extra devices idle)\n";
  for (const MetaOp& m : mg.metaops) {
    const ScalingCurve& curve = cost.metaop(m.id).curve;
    std::string line = "  " + std::to_string(m.id) + " " +
                       (component_name(s, m)) + "/" +
                       s.tasks[static_cast<size_t>(m.tasks.front())].name + ":";
    const double t1 = curve.time_s(1);
    for (const CurvePoint& p : curve.points()) {
      const double tn = curve.time_s(p.n);
      const char* mark = p.source == PointSource::kMeasured ? "*" : p.measured ? "~" : "";
      line += " " + std::to_string(p.n) + mark + ": " + ms(tn) +
              (p.n > 1 ? " (" + fixed(t1 / tn, 2) + "x)" : "");
      if (std::abs(p.t_s - tn) > 0.025 * tn) line += " [sampled " + ms(p.t_s) + "]";
      line += ";";
    }
    line.pop_back();
    out += line + "\n";
  }
  if (!cost.filled_keys().empty()) {
    out += "\nShapes not in the profile (the analytic model, fitted to the profile's points of the kind where it has two shapes or more):\n";
    for (const std::string& k : cost.filled_keys()) out += "  " + k + "\n";
  }
  (void)g;
  return out;
}

std::string cost_sources_text(const CostModel& cost, const Profile& profile) {
  std::string out = "Cost model: profile " + profile.source + " (" + profile.backend + ", " + profile.device;
  std::string dtypes;
  for (const auto& [key, m] : profile.ops)
    if (dtypes.find(key.dtype) == std::string::npos) dtypes += (dtypes.empty() ? "" : "/") + key.dtype;
  out += (dtypes.empty() ? "" : ", " + dtypes) + "; " + profile.timer + "; " + profile.date + ")\n";
  TextTable t;
  using A = TextTable::Align;
  for (auto [h, a] : std::vector<std::pair<const char*, A>>{{"operator kind", A::kLeft},
                                                           {"measured", A::kRight},
                                                           {"interpolated", A::kRight},
                                                           {"extrapolated", A::kRight},
                                                           {"scaled", A::kRight},
                                                           {"analytic", A::kRight}})
    t.add_column(h, a);
  std::array<int, kPointSources> total{};
  auto row = [&](const std::string& name, const std::array<int, kPointSources>& c) {
    auto n = [&](PointSource s) { return std::to_string(c[static_cast<size_t>(s)]); };
    t.add_row({name, n(PointSource::kMeasured), n(PointSource::kInterpolated), n(PointSource::kExtrapolated),
               n(PointSource::kScaled), n(PointSource::kAnalytic)});
  };
  for (const auto& [kind, counts] : cost.source_counts()) {
    row(kind, counts);
    for (size_t i = 0; i < total.size(); ++i) total[i] += counts[i];
  }
  row("all", total);
  out += "Samples of T(n) by source (the layout's curves; interpolated: between measured batches of the shape on "
         "their alpha-beta fit; scaled: a shape the profile lacks, the analytic model fitted to its kind's points)\n" +
         t.render();
  if (const AnalyticFits* fits = cost.analytic_fits(); fits && !fits->kinds().empty()) {
    TextTable f;
    for (auto [h, a] : std::vector<std::pair<const char*, A>>{{"operator kind", A::kLeft},
                                                             {"points", A::kRight},
                                                             {"forward", A::kLeft},
                                                             {"worst", A::kRight},
                                                             {"backward", A::kLeft},
                                                             {"worst", A::kRight}})
      f.add_column(h, a);
    auto pct = [](double e) { return fixed(100 * e, 1) + "%"; };
    for (const auto& [kind, k] : fits->kinds())
      f.add_row({kind, std::to_string(k.fwd.points), kernel_rates_text(k.fwd), pct(k.fwd.max_error),
                 kernel_rates_text(k.bwd), pct(k.bwd.max_error)});
    out += "The analytic model fitted to the profile per kind (what a scaled sample costs: a fixed cost per kernel + "
           "a factor x the kernels' analytic time without launch costs; worst: at the profile's points)\n" +
           f.render();
  }
  out += "Optimizer step and gradient norm: " + optimizer_source(cost) + "\n";
  return out;
}

std::string optimizer_source(const CostModel& cost) {
  const BatchCurve* c = cost.optimizer_curve();
  if (c == nullptr) return "analytic (their traffic at HBM speed and a launch per list of tensors)";
  return "the profile's per-tensor times (" + std::to_string(c->batches().size()) + " tensor sizes, " +
         std::to_string(c->batches().front()) + " to " + std::to_string(c->batches().back()) + " elements)";
}

}  // namespace spindle
