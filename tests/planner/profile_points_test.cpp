// What a profile gives the cost model: the piecewise alpha-beta fit recovers known parameters;
// a shape's batch curve interpolates between measured batches on that fit, floors below the
// smallest and follows the last piece above the largest; a profile of another backend, device
// or dtype is refused in one line naming both; the cost model counts its samples by source.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "planner/cost/alpha_beta_fit.h"
#include "planner/cost/cost_model.h"
#include "planner/cost/profile_points.h"
#include "planner/pipeline.h"
#include "planner/place/placement.h"
#include "planner/program/instr_time.h"
#include "planner/program/lowering.h"
#include "planner/schedule/systems.h"
#include "traces/errors.h"

namespace spindle::testing {
namespace {

// Two regimes, t = 2 + 0.5 x up to x = 8, then t = -10 + 2 x (a steeper line): the fit finds
// two pieces with exactly these parameters.
TEST(AlphaBetaFit, RecoversKnownPieces) {
  std::vector<FitSample> s;
  for (double x : {1.0, 2.0, 4.0, 8.0}) s.push_back({x, 2 + 0.5 * x});
  for (double x : {16.0, 32.0, 64.0}) s.push_back({x, -10 + 2 * x});
  const std::vector<CurvePiece> p = fit_alpha_beta(s, 0.02);
  ASSERT_EQ(p.size(), 2u);
  EXPECT_NEAR(p[0].alpha, 2.0, 1e-9);
  EXPECT_NEAR(p[0].beta, 0.5, 1e-9);
  EXPECT_EQ(p[0].w_from, 1.0);
  EXPECT_NEAR(p[1].alpha, -10.0, 1e-9);
  EXPECT_NEAR(p[1].beta, 2.0, 1e-9);
  EXPECT_EQ(p[1].w_from, 16.0);
  EXPECT_NEAR(piece_value(p, 6.0), 5.0, 1e-9);
  EXPECT_NEAR(piece_value(p, 48.0), 86.0, 1e-9);
  // Noise of +-1% stays one piece per regime at 2% tolerance, parameters within a few percent.
  std::vector<FitSample> noisy = s;
  for (size_t i = 0; i < noisy.size(); ++i) noisy[i].t *= i % 2 ? 1.01 : 0.99;
  const std::vector<CurvePiece> q = fit_alpha_beta(noisy, 0.02);
  ASSERT_EQ(q.size(), 2u);
  EXPECT_NEAR(q[0].beta, 0.5, 0.05);
  EXPECT_NEAR(q[1].beta, 2.0, 0.1);
  EXPECT_THROW(fit_alpha_beta({}, 0.02), InternalError);
  EXPECT_THROW(fit_alpha_beta({{2, 1}, {1, 1}}, 0.02), InternalError);  // x not ascending
}

OpMeasurement point(std::int64_t batch, double fwd, double bwd) {
  OpMeasurement m;
  m.key.kind = "encoder_layer";
  m.key.dtype = "fp32";
  m.key.seq = 17, m.key.hidden = 40, m.key.heads = 4, m.key.ffn = 160;
  m.key.batch = batch;
  m.fwd_ms = fwd, m.bwd_ms = bwd, m.samples = 3;
  return m;
}

// Measured at 1, 2, 4, 8, 16 on the line fwd = 0.1 + 0.05 b (bwd twice that): batch 12 is
// interpolated on it exactly, 3 too; below 1 nothing exists, above 16 the line goes on.
TEST(BatchCurve, InterpolatesOnTheFitAndExtrapolates) {
  Profile p;
  for (std::int64_t b : {1, 2, 4, 8, 16}) p.add(point(b, 0.1 + 0.05 * static_cast<double>(b), 0.2 + 0.1 * static_cast<double>(b)));
  const ProfilePoints pts(p);
  ASSERT_EQ(pts.curves().size(), 1u);
  const BatchCurve& c = pts.curves().begin()->second;
  EXPECT_NEAR(c.fit_error(), 0, 1e-12);
  EXPECT_NEAR(c.leave_one_out_error(), 0, 1e-12);
  ASSERT_EQ(c.fwd_pieces().size(), 1u);
  EXPECT_NEAR(c.fwd_pieces()[0].alpha, 0.1, 1e-12);
  EXPECT_NEAR(c.fwd_pieces()[0].beta, 0.05, 1e-12);
  OpShapeKey k = point(12, 0, 0).key;
  BatchCurve::Value v = pts.at(k);
  EXPECT_EQ(v.source, PointSource::kInterpolated);
  EXPECT_NEAR(v.fwd_ms, 0.1 + 0.05 * 12, 1e-12);
  EXPECT_NEAR(v.bwd_ms, 0.2 + 0.1 * 12, 1e-12);
  k.batch = 8;
  v = pts.at(k);
  EXPECT_EQ(v.source, PointSource::kMeasured);
  EXPECT_DOUBLE_EQ(v.fwd_ms, 0.5);
  k.batch = 32;
  v = pts.at(k);
  EXPECT_EQ(v.source, PointSource::kExtrapolated);
  EXPECT_NEAR(v.fwd_ms, 0.1 + 0.05 * 32, 1e-12);
  k.seq = 18;  // another shape: nothing
  EXPECT_EQ(pts.at(k).source, PointSource::kAnalytic);
}

// A kink the measured points do not show (16 twice as slow as the line) is found by the
// leave-one-out error, and the floor below the smallest batch is its time.
TEST(BatchCurve, LeaveOneOutSeesWhatInterpolationMisses) {
  Profile p;
  for (std::int64_t b : {2, 4, 8}) p.add(point(b, static_cast<double>(b), 0));
  p.add(point(16, 32, 0));
  p.add(point(32, 64, 0));
  const ProfilePoints pts(p);
  const BatchCurve& c = pts.curves().begin()->second;
  EXPECT_TRUE(c.bwd_pieces().empty()) << "bwd 0 everywhere: no backward";
  EXPECT_GT(c.leave_one_out_error(), 0.3);
  EXPECT_EQ(c.at(1).source, PointSource::kExtrapolated);
  EXPECT_DOUBLE_EQ(c.at(1).fwd_ms, 2.0);
  EXPECT_DOUBLE_EQ(c.at(1).bwd_ms, 0.0);
  // A backward measured at some batches only is refused.
  p.ops.clear();
  p.source = "p.h5";
  p.add(point(2, 1, 0));
  p.add(point(4, 2, 3));
  EXPECT_THROW(ProfilePoints{p}, InputError);
}

GpuSpec a800() {
  GpuSpec g;
  g.id = "a800-80gb";
  g.name = "A800-80GB SXM";
  g.reported_names = {"NVIDIA A800-SXM4-80GB", "A800-80GB SXM"};
  return g;
}

std::string refusal(const Profile& p, const GpuSpec& g) {
  try {
    check_profile_device(p, g, "s.toml");
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

TEST(ProfileDevice, AnotherBackendDeviceOrDtypeIsRefused) {
  Profile p;
  p.source = "p.h5";
  p.backend = "cuda";
  p.device = "NVIDIA A800-SXM4-80GB";
  OpMeasurement m = point(4, 1, 2);
  m.key.dtype = "bf16";
  p.add(m);
  EXPECT_EQ(refusal(p, a800()), "");
  p.device = "A800-80GB SXM";
  EXPECT_EQ(refusal(p, a800()), "");
  p.device = "NVIDIA H100 80GB HBM3";
  EXPECT_EQ(refusal(p, a800()),
            "p.h5: profile measured on 'NVIDIA H100 80GB HBM3' (backend cuda) but s.toml runs on A800-80GB SXM "
            "(a800-80gb.toml: backend cuda, bf16, reported as 'NVIDIA A800-SXM4-80GB', 'A800-80GB SXM'); allowed: a "
            "profile of a device the device file's reported_names list");
  p.device = "NVIDIA A800-SXM4-80GB";
  p.backend = "cpu";
  EXPECT_NE(refusal(p, a800()).find("(backend cpu) but s.toml runs on A800-80GB SXM"), std::string::npos);
  EXPECT_NE(refusal(p, a800()).find("allowed: a profile measured with the device's backend"), std::string::npos);
  p.backend = "cuda";
  p.ops.clear();
  m.key.dtype = "fp32";
  p.add(m);
  EXPECT_NE(refusal(p, a800()).find("p.h5: profile's operators were measured in fp32 but s.toml runs on"),
            std::string::npos);
  EXPECT_NE(refusal(p, a800()).find("allowed: a profile with operators measured in bf16"), std::string::npos);
  // Patterns: any CPU for the generic core; an exact name otherwise.
  EXPECT_TRUE(name_matches("*", "AMD EPYC 7B13"));
  EXPECT_TRUE(name_matches("AMD EPYC*", "AMD EPYC 7B13"));
  EXPECT_TRUE(name_matches("*EPYC*13", "AMD EPYC 7B13"));
  EXPECT_FALSE(name_matches("Intel*", "AMD EPYC 7B13"));
  EXPECT_FALSE(name_matches("AMD EPYC", "AMD EPYC 7B13"));
}

// A profile holding every key of one MetaOp at even batches: the samples it serves are counted
// as measured or interpolated per operator kind, the rest as analytic.
TEST(ProfileDevice, TheCostModelCountsSamplesBySource) {
  const ScenarioModel plain(load_scenario(default_data_dir() / "clusters" / "cpu-host-2core.toml"));
  const Scenario& s = plain.s;
  const MetaOp& first = plain.mg.metaops.front();
  const Operator& op = plain.g.op(first.ops.front());
  Profile p;
  p.backend = "cpu";
  p.device = "any CPU";
  for (std::int64_t b : {1, 2, 4, 8, 16, 32}) {
    OpMeasurement m;
    m.key = shape_key(op, ParallelConfig{1, 1, false}, "fp32");
    m.key.batch = b;
    m.fwd_ms = 0.01 * static_cast<double>(b), m.bwd_ms = 0.02 * static_cast<double>(b), m.samples = 1;
    p.add(m);
  }
  const ScenarioModel with(load_scenario(default_data_dir() / "clusters" / "cpu-host-2core.toml"), &p);
  const SourceCounts& c = with.cost.source_counts();
  ASSERT_TRUE(c.count(op_kind_name(op.kind)));
  const std::array<int, kPointSources>& kind = c.at(op_kind_name(op.kind));
  EXPECT_GT(kind[static_cast<size_t>(PointSource::kInterpolated)], 0) << "batches 24 and 12 lie between 8, 16, 32";
  EXPECT_GT(kind[static_cast<size_t>(PointSource::kAnalytic)] + c.at("contrastive_loss")[0], 0);
  EXPECT_TRUE(plain.cost.source_counts().empty());
  // The interpolated sample's time is the fit's: 0.03 x batch ms at local batch 24.
  const CurvePoint* pt = with.cost.point(first.id, 1, 1);
  ASSERT_NE(pt, nullptr);
  EXPECT_NEAR(pt->fwd_s + pt->bwd_s, 0.03e-3 * static_cast<double>(first.shape.batch), 1e-12);
  (void)s;
}

// The step and the gradient norm cost their tensors x one tensor's share at the mean tensor size
// from the profile's optimizer rows (their fit: exact on a line), and without them the traffic
// at HBM speed plus a launch per list of 36 (step) or 110 (norm) tensors.
TEST(OptimizerCost, TensorsTimesTheMeasuredCallOrTheTrafficAndLaunches) {
  const auto fwd_ms = [](double n) { return 0.001 + 1e-6 * n; };
  const auto bwd_ms = [](double n) { return 0.0005 + 2e-7 * n; };
  Profile p;
  p.backend = "cpu";
  p.device = "any CPU";
  for (std::int64_t n = 64; n <= (std::int64_t{1} << 22); n *= 4) {
    OpMeasurement m;
    m.key = optimizer_key(n);
    m.fwd_ms = fwd_ms(static_cast<double>(n)), m.bwd_ms = bwd_ms(static_cast<double>(n)), m.samples = 1;
    p.add(m);
  }
  const std::filesystem::path file = default_data_dir() / "clusters" / "cpu-host-2core.toml";
  for (const bool measured : {false, true}) {
    const ScenarioModel m(load_scenario(file), measured ? &p : nullptr);
    ASSERT_EQ(m.cost.optimizer_curve() != nullptr, measured);
    Plan plan = plan_system("sequential", m.s, m.mg, m.cost);
    place(plan, m.s, m.g, m.mg, PlacementPolicy::kSpindle);
    const Programs progs = lower(plan, m.s, m.g, m.mg);
    const auto secs = compute_seconds(progs, m.s, m.mg, m.cost);
    const GpuSpec& gpu = m.s.cluster.gpu;
    int seen = 0;
    for (const DeviceProgram& dp : progs.devices)
      for (size_t i = 0; i < dp.instrs.size(); ++i) {
        const Instr& in = dp.instrs[i];
        if (in.kind != InstrKind::kStep && in.kind != InstrKind::kGradNorm) continue;
        ++seen;
        const bool step = in.kind == InstrKind::kStep;
        if (!step && in.params == 0) {  // every weight it holds is counted on another device
          EXPECT_EQ(secs[static_cast<size_t>(dp.device)][i], 0.0);
          continue;
        }
        ASSERT_GT(in.tensors, 0) << instr_name(in.kind) << " on " << dp.device;
        const double mean = static_cast<double>(in.params / in.tensors);
        const double bytes = step ? static_cast<double>(in.bytes) : 4.0 * static_cast<double>(in.params);
        const double want = measured ? in.tensors * (step ? fwd_ms(mean) : bwd_ms(mean)) * 1e-3
                                     : bytes / (gpu.hbm_bw_GBps * 1e9 * gpu.hbm_efficiency) +
                                           ((in.tensors + (step ? 35 : 109)) / (step ? 36 : 110)) *
                                               gpu.launch_overhead_us * 1e-6;
        EXPECT_NEAR(secs[static_cast<size_t>(dp.device)][i], want, want * 1e-9) << instr_name(in.kind) << " on " << dp.device;
      }
    EXPECT_EQ(seen, 2 * plan.gpus);
  }
}

}  // namespace
}  // namespace spindle::testing
