// AdamW against its formula, two steps by hand in double precision.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "engine/cpu/adamw.h"

namespace spindle::engine::test {
namespace {

TEST(AdamW, TwoStepsMatchTheFormula) {
  cpu::AdamWParams p{0.01f, 0.9f, 0.95f, 1e-8f, 0.1f};
  float w = 0.5f, m = 0, v = 0;
  double W = 0.5, M = 0, V = 0;
  const float grads[] = {0.3f, -0.2f};
  for (int t = 1; t <= 2; ++t) {
    const float g = grads[t - 1];
    cpu::adamw_step(&w, &g, &m, &v, 1, p, t);
    M = 0.9 * M + 0.1 * g;
    V = 0.95 * V + 0.05 * static_cast<double>(g) * g;
    const double mhat = M / (1 - std::pow(0.9, t)), vhat = V / (1 - std::pow(0.95, t));
    W -= 0.01 * (mhat / (std::sqrt(vhat) + 1e-8) + 0.1 * W);
    EXPECT_NEAR(w, W, 1e-6) << "step " << t;
  }
}

// The clip factor folded into the step equals scaling the gradient first, bit for bit, on a
// tensor long enough for the vectorised loop and its remainder.
TEST(AdamW, GradScaleEqualsAScaledGradient) {
  const int n = 1027;
  std::vector<float> w(n), g(n), m(n, 0.01f), v(n, 0.02f);
  for (int i = 0; i < n; ++i) {
    w[i] = 0.001f * static_cast<float>(i % 97) - 0.05f;
    g[i] = 0.003f * static_cast<float>(i % 31) - 0.04f;
  }
  std::vector<float> w2 = w, m2 = m, v2 = v, scaled = g;
  for (float& x : scaled) x *= 0.3f;
  cpu::AdamWParams p{0.01f, 0.9f, 0.95f, 1e-8f, 0.1f};
  cpu::adamw_step(w.data(), scaled.data(), m.data(), v.data(), n, p, 3);
  p.grad_scale = 0.3f;
  cpu::adamw_step(w2.data(), g.data(), m2.data(), v2.data(), n, p, 3);
  EXPECT_EQ(w, w2);
  EXPECT_EQ(m, m2);
  EXPECT_EQ(v, v2);
}

}  // namespace
}  // namespace spindle::engine::test
