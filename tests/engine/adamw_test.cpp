// AdamW against its formula, two steps by hand in double precision.
#include <gtest/gtest.h>

#include <cmath>

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

}  // namespace
}  // namespace spindle::engine::test
