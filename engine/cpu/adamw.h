// AdamW (Loshchilov & Hutter): Adam moments with bias correction and decoupled weight decay,
// on fp32 master weights. One call updates one tensor in place; `step` counts from 1. The
// gradient is read times grad_scale (the clip factor, folded in: no pass of its own).
#pragma once

#include <cstdint>

namespace spindle::engine::cpu {

struct AdamWParams {
  float lr = 1e-3f;
  float beta1 = 0.9f;
  float beta2 = 0.95f;
  float eps = 1e-8f;
  float weight_decay = 0.0f;  // applied as w -= lr wd w
  float grad_scale = 1.0f;    // g = grad x grad_scale (gradient clipping)
};

void adamw_step(float* w, const float* grad, float* m, float* v, std::int64_t n, const AdamWParams& p,
                std::int64_t step);

}  // namespace spindle::engine::cpu
