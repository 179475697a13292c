// The analytic model fitted to a profile: a fit of points made with known per-kernel and
// factor terms recovers them; a profile key maps back to the operator and configuration it
// was made from; the cost model costs a shape the profile lacks at its kind's fit ("scaled"),
// and a kind the profile lacks stays analytic.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "planner/cost/analytic_fit.h"
#include "planner/cost/cost_model.h"
#include "planner/cost/op_time.h"
#include "planner/pipeline.h"

namespace spindle::testing {
namespace {

TEST(AnalyticFit, RecoversKnownTerms) {
  const double per_kernel = 2e-6, factor = 1.7;
  std::vector<KernelTerms> terms;
  std::vector<double> seconds;
  for (double k : {3.0, 7.0, 12.0})
    for (double v : {1e-5, 4e-5, 3e-4}) {
      terms.push_back({k, v});
      seconds.push_back(per_kernel * k + factor * v);
    }
  const KernelFit f = KernelFit::fit(terms, seconds);
  EXPECT_EQ(f.points, 9);
  EXPECT_NEAR(f.seconds_per[0], per_kernel, 1e-12);
  EXPECT_NEAR(f.seconds_per[1], factor, 1e-9);
  EXPECT_LT(f.max_error, 1e-9);
  EXPECT_NEAR(f.at({5, 1e-3}), per_kernel * 5 + factor * 1e-3, 1e-12);
}

// Times that fall as the work grows cannot have both terms positive: the better single term.
TEST(AnalyticFit, FallsBackToOneTerm) {
  const KernelFit f = KernelFit::fit({{4, 1e-5}, {4, 2e-5}, {4, 4e-5}}, {3e-5, 2e-5, 1e-5});
  EXPECT_EQ((f.seconds_per[0] > 0) + (f.seconds_per[1] > 0), 1);
  EXPECT_GT(f.max_error, 0.1);
  // One point: one term, exact there.
  const KernelFit one = KernelFit::fit({{4, 1e-5}}, {3e-5});
  EXPECT_NEAR(one.at({4, 1e-5}), 3e-5, 1e-15);
}

// Every operator of the zoo at every configuration the estimator samples: its key maps back to
// an operator with the same key and the same analytic time.
TEST(AnalyticFit, KeysMapBackToTheirOperators) {
  int checked = 0;
  for (const char* name : {"multitask-clip-4", "ofasys-4", "qwen-val-3"}) {
    const Scenario s = load_scenario(default_data_dir() / (std::string(name) + ".toml"));
    const ScenarioModel m(s);
    for (const MetaOp& mo : m.mg.metaops) {
      const Operator& op = m.g.op(mo.ops.front());
      for (int tp : sampled_tp_degrees(s, op))
        for (const ParallelConfig& cfg : sampled_configs(s, mo.shape.batch, tp)) {
          const OpShapeKey key = shape_key(op, cfg, "bf16");
          const auto back = operator_of(key);
          ASSERT_TRUE(back.has_value()) << key.str();
          EXPECT_EQ(shape_key(back->first, back->second, "bf16"), key) << key.str();
          const OpTime a = analytic_op_time(op, s.cluster.gpu, cfg);
          const OpTime b = analytic_op_time(back->first, s.cluster.gpu, back->second);
          EXPECT_NEAR(b.fwd_s, a.fwd_s, 1e-12 * a.fwd_s) << key.str();
          EXPECT_NEAR(b.bwd_s, a.bwd_s, 1e-12 * a.bwd_s) << key.str();
          ++checked;
        }
    }
  }
  EXPECT_GT(checked, 100);
  OpShapeKey bad;
  bad.kind = "no_such_kind", bad.batch = 1;
  EXPECT_FALSE(operator_of(bad).has_value());
}

// A profile holding two encoder shapes at several batches (made with known terms) and one
// projection-head shape: the host scenario's other encoder shapes cost the encoder fit at their
// own terms; the heads (one shape: no fit) and the kinds it lacks stay analytic.
TEST(AnalyticFit, TheCostModelScalesShapesTheProfileLacks) {
  const ScenarioModel plain(load_scenario(default_data_dir() / "clusters" / "cpu-host-2core.toml"));
  const GpuSpec& gpu = plain.s.cluster.gpu;
  std::vector<const Operator*> measured;  // two encoder shapes, then one head shape
  for (OpKind kind : {OpKind::kEncoderLayer, OpKind::kProjectionHead})
    for (const Operator& op : plain.g.ops()) {
      if (op.kind != kind) continue;
      const OpShapeKey k = shape_key(op, {}, "fp32");
      if (std::none_of(measured.begin(), measured.end(),
                       [&](const Operator* o) { return shape_key(*o, {}, "fp32").same_shape(k); }))
        measured.push_back(&op);
      if (measured.size() == (kind == OpKind::kEncoderLayer ? 2u : 3u)) break;
    }
  ASSERT_EQ(measured.size(), 3u);
  Profile p;
  p.backend = "cpu";
  p.device = "any CPU";
  for (const Operator* o : measured)
    for (std::int64_t b : {1, 2, 4, 8, 16, 32}) {
      OpMeasurement m;
      m.key = shape_key(*o, ParallelConfig{1, 1, false}, "fp32");
      m.key.batch = b;
      // 1.5 us per kernel + 3 x the analytic variable time: what the fit must recover.
      const auto op = operator_of(m.key);
      ASSERT_TRUE(op.has_value());
      const auto [f, bw] = kernel_terms(op->first, op->second, gpu);
      m.fwd_ms = (1.5e-6 * f[0] + 3 * f[1]) * 1e3;
      m.bwd_ms = (1.5e-6 * bw[0] + 3 * bw[1]) * 1e3;
      m.samples = 1;
      p.add(m);
    }
  const ScenarioModel with(load_scenario(default_data_dir() / "clusters" / "cpu-host-2core.toml"), &p);
  ASSERT_NE(with.cost.analytic_fits(), nullptr);
  const KindFit* fit = with.cost.analytic_fits()->of("encoder_layer");
  ASSERT_NE(fit, nullptr);
  EXPECT_NEAR(fit->fwd.seconds_per[0], 1.5e-6, 1e-12);
  EXPECT_NEAR(fit->fwd.seconds_per[1], 3, 1e-9);
  EXPECT_NEAR(fit->bwd.seconds_per[1], 3, 1e-9);
  EXPECT_EQ(with.cost.analytic_fits()->of("projection_head"), nullptr) << "one shape: no fit";
  int scaled = 0;
  for (const MetaOp& mo : with.mg.metaops) {
    const Operator& op = with.g.op(mo.ops.front());
    const CurvePoint* pt = with.cost.point(mo.id, 1, 1);
    ASSERT_NE(pt, nullptr);
    const OpShapeKey k = shape_key(op, {}, "fp32");
    if (std::any_of(measured.begin(), measured.end(),
                    [&](const Operator* o) { return shape_key(*o, {}, "fp32").same_shape(k); }))
      continue;  // a measured shape: measured or interpolated
    if (op.kind == OpKind::kEncoderLayer) {
      EXPECT_EQ(pt->source, PointSource::kScaled) << op.name;
      const OpTime want = fit->time(op, ParallelConfig{1, 1, false}, gpu);
      EXPECT_NEAR(pt->fwd_s, want.fwd_s, 1e-12) << op.name;
      EXPECT_NEAR(pt->bwd_s, want.bwd_s, 1e-12) << op.name;
      ++scaled;
    } else {
      EXPECT_EQ(pt->source, PointSource::kAnalytic) << op.name;
      const OpTime want = analytic_op_time(op, gpu, ParallelConfig{1, 1, false});
      EXPECT_NEAR(pt->fwd_s, want.fwd_s, 1e-15) << op.name;
    }
  }
  EXPECT_GT(scaled, 0);
}

}  // namespace
}  // namespace spindle::testing
