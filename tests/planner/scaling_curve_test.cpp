// Scalability curves: the fit recovers a known two-piece curve, reproduces its points, and
// T(n) is positive and non-increasing for every MetaOp of every zoo model; its closed-form
// inverse on the fitted pieces agrees with bisection.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "planner/cost/cost_model.h"
#include "planner/cost/scaling_curve.h"
#include "planner/graph/graph_builder.h"
#include "planner/schedule/allocator.h"
#include "test_scenarios.h"

namespace spindle::testing {
namespace {

// t = alpha + beta w in the work per device w = batch / n.
std::vector<CurvePoint> sample(double batch, const std::vector<int>& ns, double (*f)(double)) {
  std::vector<CurvePoint> pts;
  for (int n : ns) {
    CurvePoint p;
    p.n = n;
    p.t_s = f(batch / n);
    pts.push_back(p);
  }
  return pts;
}

TEST(ScalingCurve, RecoversAKnownTwoPieceCurve) {
  // Launch-bound below 8 samples per device, compute-bound above (continuous at w = 8).
  auto f = [](double w) { return w <= 8 ? 1e-3 + 2e-4 * w : -1.5e-2 + 2.2e-3 * w; };
  ScalingCurve c(sample(256, {1, 2, 4, 8, 16, 32, 64, 128, 256}, f), 256);
  ASSERT_EQ(c.pieces().size(), 2u);
  EXPECT_NEAR(c.pieces()[0].alpha, 1e-3, 1e-9);
  EXPECT_NEAR(c.pieces()[0].beta, 2e-4, 1e-10);
  EXPECT_NEAR(c.pieces()[1].alpha, -1.5e-2, 1e-8);
  EXPECT_NEAR(c.pieces()[1].beta, 2.2e-3, 1e-10);
  EXPECT_DOUBLE_EQ(c.pieces()[1].w_from, 16);
  EXPECT_LT(c.fit_error(), 1e-9);
  for (int n : {1, 2, 4, 8, 16, 32, 64, 128, 256}) EXPECT_NEAR(c.time_s(n), f(256.0 / n), 1e-9);
}

TEST(ScalingCurve, EdgeCasesOfSpindleSection3) {
  auto f = [](double w) { return 1e-3 + 1e-3 * w; };
  ScalingCurve c(sample(8, {1, 2, 4, 8}, f), 8);
  EXPECT_DOUBLE_EQ(c.time_s(0.5), 2 * c.time_s(1));  // below one device: time-sharing
  EXPECT_DOUBLE_EQ(c.time_s(64), c.time_s(8));       // batch exhausted: extra devices idle
  EXPECT_EQ(c.max_n(), 8);
}

TEST(ScalingCurve, SlowerSamplesAtMoreDevicesAreEnveloped) {
  // A sample slower than a smaller n (a bad kernel at that shape): the curve never rises.
  std::vector<CurvePoint> pts = sample(8, {1, 2, 4, 8}, [](double w) { return 1e-3 * w + 1e-3; });
  pts[3].t_s = pts[1].t_s * 1.5;
  ScalingCurve c(pts, 8);
  EXPECT_LE(c.time_s(8), c.time_s(4));
  EXPECT_LE(c.time_s(8), pts[2].t_s);
}

void expect_monotone(const ScalingCurve& c, int gpus, const std::string& what) {
  double prev = c.time_s(0.125);
  for (double n = 0.25; n <= 2 * gpus; n *= 1.0625) {
    const double t = c.time_s(n);
    EXPECT_GT(t, 0) << what << " n=" << n;
    EXPECT_LE(t, prev * (1 + 1e-12)) << what << " rises at n=" << n;
    prev = t;
  }
}

TEST(ScalingCurve, PositiveAndNonIncreasingOnEveryZooModel) {
  for (const std::string& file : zoo_files()) {
    ScenarioModel pipe(load_scenario(file));
    // Named, not bound: clang 14 lets no lambda capture a structured binding.
    [[maybe_unused]] Scenario& s = pipe.s;
    [[maybe_unused]] Graph& g = pipe.g;
    [[maybe_unused]] MetaGraph& mg = pipe.mg;
    [[maybe_unused]] CostModel& cost = pipe.cost;
    for (const MetaOp& m : mg.metaops) {
      const ScalingCurve& c = cost.metaop(m.id).curve;
      expect_monotone(c, s.cluster.gpus(), file + " MetaOp " + std::to_string(m.id));
      EXPECT_LE(c.fit_error(), 0.02 + 1e-12) << file << " MetaOp " << m.id;
    }
  }
}

TEST(ScalingCurve, LightMetaOpsStopScalingEarlyHeavyOnesScale) {
  ScenarioModel pipe(load_scenario(default_data_dir() / "multitask-clip-10.toml"));
  // Named, not bound: clang 14 lets no lambda capture a structured binding.
  [[maybe_unused]] Scenario& s = pipe.s;
  [[maybe_unused]] Graph& g = pipe.g;
  [[maybe_unused]] MetaGraph& mg = pipe.mg;
  [[maybe_unused]] CostModel& cost = pipe.cost;
  auto speedup = [&](const std::string& comp, const std::string& task, int n) {
    for (const MetaOp& m : mg.metaops)
      if (m.kind == OpKind::kEncoderLayer && m.weight_set == comp && s.tasks[static_cast<size_t>(m.tasks[0])].name == task)
        return cost.metaop(m.id).curve.time_s(1) / cost.metaop(m.id).curve.time_s(n);
    return 0.0;
  };
  EXPECT_GT(speedup("vision", "vision-text", 32), 12);  // 64 images of 257 tokens
  EXPECT_LT(speedup("imu", "imu-thermal", 8), 3);       // 8 IMU clips
  EXPECT_LT(speedup("audio", "audio-thermal", 8), 3);
}

TEST(ScalingCurve, InverseOnPiecesMatchesBisection) {
  std::mt19937 rng(3);
  for (int trial = 0; trial < 200; ++trial) {
    const int batch = 1 << (1 + rng() % 7);
    std::vector<CurvePoint> pts;
    double t = 1e-3 * (1 + rng() % 100);
    for (int n = 1; n <= batch; n *= 2) {
      pts.push_back(CurvePoint{n, t, 0, 0, false, 0});
      t *= 0.5 + 0.5 * static_cast<double>(rng() % 1000) / 1000;  // scaling from ideal to none
    }
    const ScalingCurve c(pts, batch);
    for (int k = 0; k < 20; ++k) {
      const double target = c.time_s(batch) * (0.9 + 1.2 * static_cast<double>(rng() % 1000) /
                                                         1000 * c.time_s(1) / c.time_s(batch));
      double lo = 1, hi = batch;
      const double got = inverse_time(c, target);
      if (target >= c.time_s(1)) {
        EXPECT_NEAR(got, c.time_s(1) / target, 1e-12);
        continue;
      }
      if (c.time_s(batch) > target) {
        EXPECT_TRUE(std::isinf(got));
        continue;
      }
      for (int i = 0; i < 200; ++i) {
        const double mid = 0.5 * (lo + hi);
        (c.time_s(mid) <= target ? hi : lo) = mid;
      }
      EXPECT_NEAR(got, hi, 1e-9 * hi) << "trial " << trial << " t " << target;
      EXPECT_LE(c.time_s(got * (1 + 1e-12)), target * (1 + 1e-12));
    }
  }
}

}  // namespace
}  // namespace spindle::testing
