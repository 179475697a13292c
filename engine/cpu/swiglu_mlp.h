// The SwiGLU MLP of LLaMA/Qwen blocks: y = Wd (silu(Wg x) * (Wu x)), no biases.
// x, y [n, h]; Wg, Wu [f, h]; Wd [h, f]. Forward keeps gate, up and their product [n, f].
#pragma once

#include <cstdint>

namespace spindle::engine::cpu {

template <class T>
struct SwigluWeights {
  const T *wg, *wu, *wd;
};
template <class T>
struct SwigluGrads {
  T *wg, *wu, *wd;
};

template <class T>
void swiglu_mlp_forward(const T* x, const SwigluWeights<T>& w, T* gate, T* up, T* act, T* y, std::int64_t n,
                        std::int64_t h, std::int64_t f);

template <class T>
void swiglu_mlp_backward(const T* x, const SwigluWeights<T>& w, const T* gate, const T* up, const T* act,
                         const T* dy, T* dx, const SwigluGrads<T>& dw, std::int64_t n, std::int64_t h,
                         std::int64_t f);

}  // namespace spindle::engine::cpu
