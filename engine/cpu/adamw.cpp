// AdamW update (see adamw.h): m = b1 m + (1-b1) g, v = b2 v + (1-b2) g^2,
// w -= lr (m / (1-b1^t) / (sqrt(v / (1-b2^t)) + eps) + wd w).
#include "engine/cpu/adamw.h"

#include <cmath>

namespace spindle::engine::cpu {

void adamw_step(float* w, const float* grad, float* m, float* v, std::int64_t n, const AdamWParams& p,
                std::int64_t step) {
  const float c1 = static_cast<float>(1.0 - std::pow(static_cast<double>(p.beta1), static_cast<double>(step)));
  const float c2 = static_cast<float>(1.0 - std::pow(static_cast<double>(p.beta2), static_cast<double>(step)));
  for (std::int64_t i = 0; i < n; ++i) {
    m[i] = p.beta1 * m[i] + (1.0f - p.beta1) * grad[i];
    v[i] = p.beta2 * v[i] + (1.0f - p.beta2) * grad[i] * grad[i];
    const float mhat = m[i] / c1, vhat = v[i] / c2;
    w[i] -= p.lr * (mhat / (std::sqrt(vhat) + p.eps) + p.weight_decay * w[i]);
  }
}

}  // namespace spindle::engine::cpu
