// Patch embedding: each token's raw features (image patch, audio frame, IMU window) mapped
// linearly to the model width, plus a learned position embedding per token:
// y[b, t] = W x[b, t] + bias + pos[t]. x [B, T, P]; W [H, P]; pos [>= T, H]. Raw data needs no
// gradient, so backward yields dW, dbias and dpos only.
#pragma once

#include <cstdint>

namespace spindle::engine::cpu {

template <class T>
void patch_embed_forward(const T* x, const T* w, const T* bias, const T* pos, T* y, std::int64_t batch,
                         std::int64_t tokens, std::int64_t features, std::int64_t hidden);

template <class T>
void patch_embed_backward(const T* x, const T* dy, T* dw, T* dbias, T* dpos, std::int64_t batch,
                          std::int64_t tokens, std::int64_t features, std::int64_t hidden);

}  // namespace spindle::engine::cpu
