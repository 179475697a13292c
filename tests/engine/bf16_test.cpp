// bf16 storage (issue 21 item 3): the host conversion rounds to nearest even and keeps NaN and
// the limits; a plan's run with bf16 activations, activation gradients and transfers
// (TrainOptions::activation_dtype) moves exactly the bytes its program counts and trains like
// the fp32 run within the stated tolerance (kBf16LossTolerance, relative, per task and step
// over 10 steps: bf16 keeps 8 bits of mantissa, so each stored tensor is off by up to 2^-9 of
// itself and the losses drift apart a little with every step).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <limits>
#include <memory>

#include "engine/backend_registry.h"
#include "engine/cpu/bf16.h"
#include "engine/launch/logical_devices.h"
#include "engine/launch/thread_launcher.h"
#include "engine_test_util.h"
#include "planner/pipeline.h"

namespace spindle::engine::test {
namespace {

constexpr double kBf16LossTolerance = 2e-2;

TEST(Bf16, RoundsToNearestEvenAndKeepsTheLimits) {
  EXPECT_EQ(cpu::to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(cpu::from_bf16(0x3f80), 1.0f);
  const float ulp = std::ldexp(1.0f, -7);  // bf16's spacing at 1
  EXPECT_EQ(cpu::from_bf16(cpu::to_bf16(1.0f + ulp / 2)), 1.0f);              // a tie goes to the even 1
  EXPECT_EQ(cpu::from_bf16(cpu::to_bf16(1.0f + 3 * ulp / 2)), 1.0f + 2 * ulp);  // ... and here to the even 1 + 2 ulp
  EXPECT_EQ(cpu::from_bf16(cpu::to_bf16(1.0f + ulp * 0.51f)), 1.0f + ulp);     // past the tie: up
  EXPECT_EQ(cpu::from_bf16(cpu::to_bf16(-2.5f)), -2.5f);                        // exact values stay
  EXPECT_TRUE(std::isnan(cpu::from_bf16(cpu::to_bf16(std::numeric_limits<float>::quiet_NaN()))));
  EXPECT_TRUE(std::isinf(cpu::from_bf16(cpu::to_bf16(std::numeric_limits<float>::infinity()))));
  EXPECT_EQ(cpu::from_bf16(cpu::to_bf16(std::numeric_limits<float>::max())), std::numeric_limits<float>::infinity());
  for (float x : {0.1f, -3.7f, 1e-20f, 6.02e23f}) {
    const float r = cpu::from_bf16(cpu::to_bf16(x));
    EXPECT_LE(std::abs(r - x), std::abs(x) * std::ldexp(1.0f, -9)) << x;  // within half a bf16 ulp
    EXPECT_EQ(cpu::from_bf16(cpu::to_bf16(r)), r) << x;                    // and stable
  }
}

// Mixed precision as the GPU runs it: a GEMM kernel on bf16 activations takes its fp32 weights
// rounded to bf16 (the CUDA backend's bf16 GEMMs read bf16 copies of the masters), so the CPU
// reference and the GPU compute the same products; on fp32 activations the weights stay fp32.
TEST(Bf16Storage, GemmsOnBf16ActivationsTakeBf16RoundedWeights) {
  std::unique_ptr<Backend> be = make_backend("cpu");
  std::vector<float> xv(4 * 8), wv(6 * 8), dyv(4 * 6);
  for (size_t i = 0; i < xv.size(); ++i) xv[i] = 0.25f * static_cast<float>(static_cast<int>(i % 7) - 3);  // bf16-exact
  for (size_t i = 0; i < wv.size(); ++i) wv[i] = 0.1f + 1e-3f * static_cast<float>(i);  // not bf16-exact
  for (size_t i = 0; i < dyv.size(); ++i) dyv[i] = 0.5f * static_cast<float>(static_cast<int>(i % 5) - 2);
  std::vector<float> rounded = wv;
  for (float& v : rounded) v = cpu::from_bf16(cpu::to_bf16(v));
  ASSERT_NE(rounded, wv);
  auto run = [&](DType act, const std::vector<float>& weights) {
    Tensor x = be->alloc({4, 8}, act), w = be->alloc({6, 8}, DType::kF32), none, y = be->alloc({4, 6}, DType::kF32);
    be->upload(x, xv);
    be->upload(w, weights);
    be->linear_forward(x, w, none, y);
    Tensor dy = be->alloc({4, 6}, act), dx = be->alloc({4, 8}, DType::kF32), dw = be->alloc({6, 8}, DType::kF32);
    be->upload(dy, dyv);
    be->linear_backward(x, w, dy, dx, dw, none);
    std::vector<float> out(4 * 6), gx(4 * 8), gw(6 * 8);
    be->download(y, out);
    be->download(dx, gx);
    be->download(dw, gw);
    return std::vector<std::vector<float>>{out, gx, gw};
  };
  const auto bf16 = run(DType::kBF16, wv), bf16_rounded = run(DType::kBF16, rounded);
  const auto fp32 = run(DType::kF32, wv), fp32_rounded = run(DType::kF32, rounded);
  EXPECT_EQ(bf16, bf16_rounded);  // y, dx and dw: as if the weights were bf16 values
  EXPECT_EQ(bf16, fp32_rounded);  // (x and dy are bf16-exact: only the weights differ)
  EXPECT_NE(fp32[0], fp32_rounded[0]);  // fp32 activations: the weights as they are
  EXPECT_NE(fp32[1], fp32_rounded[1]);
  EXPECT_EQ(fp32[2], fp32_rounded[2]);  // dw = dy^T x reads no weight
}

struct TrainedRun {
  std::vector<std::vector<float>> losses;  // per step, per task
  std::vector<DeviceCounters> counters;
};

TrainedRun train(const Scenario& s, const Programs& programs, DType dtype, int steps) {
  TrainOptions opt;
  opt.activation_dtype = dtype;
  ThreadLauncher launcher(s, programs, "cpu", opt);
  TrainedRun r;
  for (int i = 0; i < steps; ++i) r.losses.push_back(launcher.step().task_loss);
  r.counters = launcher.counters();
  return r;
}

TEST(Bf16Storage, TrainsLikeFp32AndMovesTheProgramsBytes) {
  for (const char* name : {"multitask-clip-4", "ofasys-4", "qwen-val-3"}) {
    SCOPED_TRACE(name);
    const Scenario s = on_devices(zoo(name), 4);
    const LoweredPlan rp = lowered_plan(ScenarioModel(s), "spindle", "");
    const TrainedRun f = train(s, rp.programs, DType::kF32, 10), b = train(s, rp.programs, DType::kBF16, 10);
    double worst = 0;
    for (size_t i = 0; i < f.losses.size(); ++i)
      for (size_t t = 0; t < f.losses[i].size(); ++t) {
        const double rel = std::abs(b.losses[i][t] - f.losses[i][t]) / std::abs(f.losses[i][t]);
        worst = std::max(worst, rel);
        EXPECT_LE(rel, kBf16LossTolerance) << "step " << i + 1 << " task " << t;
      }
    std::printf("[bf16] %s: worst relative loss difference to fp32 over 10 steps %.3g\n", name, worst);
    EXPECT_GT(worst, 0) << "bf16 storage changed nothing";
    for (size_t d = 0; d < b.counters.size(); ++d) {
      std::int64_t sent = 0;
      for (const Instr& in : rp.programs.devices[d].instrs)
        if (in.kind == InstrKind::kSend) sent += in.bytes;
      EXPECT_EQ(b.counters[d].sent_bytes, sent / rp.programs.activation_bytes * 2) << "device " << d;
      EXPECT_EQ(f.counters[d].sent_bytes, sent / rp.programs.activation_bytes * 4) << "device " << d;
    }
  }
}

}  // namespace
}  // namespace spindle::engine::test
