// AdamW update (see adamw.h): g = grad s, m = b1 m + (1-b1) g, v = b2 v + (1-b2) g^2,
// w -= lr (m / (1-b1^t) / (sqrt(v / (1-b2^t)) + eps) + wd w). One streaming pass the compiler
// vectorises: no aliasing (restrict) and no errno for sqrt (-fno-math-errno on this file).
#include "engine/cpu/adamw.h"

#include <cmath>

namespace spindle::engine::cpu {

void adamw_step(float* __restrict w, const float* __restrict grad, float* __restrict m, float* __restrict v,
                std::int64_t n, const AdamWParams& p, std::int64_t step) {
  const float c1 = static_cast<float>(1.0 - std::pow(static_cast<double>(p.beta1), static_cast<double>(step)));
  const float c2 = static_cast<float>(1.0 - std::pow(static_cast<double>(p.beta2), static_cast<double>(step)));
  const float b1 = p.beta1, b2 = p.beta2, a1 = 1.0f - p.beta1, a2 = 1.0f - p.beta2;
  const float lr = p.lr, eps = p.eps, wd = p.weight_decay, s = p.grad_scale;
  for (std::int64_t i = 0; i < n; ++i) {
    const float g = grad[i] * s;
    const float mi = b1 * m[i] + a1 * g, vi = b2 * v[i] + a2 * g * g;
    m[i] = mi;
    v[i] = vi;
    const float mhat = mi / c1, vhat = vi / c2;
    w[i] -= lr * (mhat / (std::sqrt(vhat) + eps) + wd * w[i]);
  }
}

}  // namespace spindle::engine::cpu
