// The GELU MLP of a transformer block: y = W2 gelu(W1 x + b1) + b2 (tanh approximation of
// GELU, as GPT-2 and CLIP). x, y [n, h]; W1 [f, h], W2 [h, f]. Forward keeps the
// pre-activation and the activation [n, f] for backward.
#pragma once

#include <cstdint>

namespace spindle::engine::cpu {

template <class T>
struct GeluMlpWeights {
  const T *w1, *b1, *w2, *b2;
};
template <class T>
struct GeluMlpGrads {
  T *w1, *b1, *w2, *b2;
};

template <class T>
void gelu_mlp_forward(const T* x, const GeluMlpWeights<T>& w, T* pre, T* act, T* y, std::int64_t n, std::int64_t h,
                      std::int64_t f);

template <class T>
void gelu_mlp_backward(const T* x, const GeluMlpWeights<T>& w, const T* pre, const T* act, const T* dy, T* dx,
                       const GeluMlpGrads<T>& dw, std::int64_t n, std::int64_t h, std::int64_t f);

}  // namespace spindle::engine::cpu
