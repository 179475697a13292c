// SwiGLU MLP forward and backward (see swiglu_mlp.h). silu(g) = g sigmoid(g),
// silu'(g) = sigmoid(g) (1 + g (1 - sigmoid(g))).
#include "engine/cpu/swiglu_mlp.h"

#include <cmath>
#include <vector>

#include "engine/cpu/linear.h"

namespace spindle::engine::cpu {
namespace {

template <class T>
T sigmoid(T g) {
  return T(1) / (T(1) + std::exp(-g));
}

}  // namespace

template <class T>
void swiglu_mlp_forward(const T* x, const SwigluWeights<T>& w, T* gate, T* up, T* act, T* y, std::int64_t n,
                        std::int64_t h, std::int64_t f) {
  linear_forward<T>(x, w.wg, nullptr, gate, n, h, f);
  linear_forward<T>(x, w.wu, nullptr, up, n, h, f);
  for (std::int64_t i = 0; i < n * f; ++i) act[i] = gate[i] * sigmoid(gate[i]) * up[i];
  linear_forward<T>(act, w.wd, nullptr, y, n, f, h);
}

template <class T>
void swiglu_mlp_backward(const T* x, const SwigluWeights<T>& w, const T* gate, const T* up, const T* act,
                         const T* dy, T* dx, const SwigluGrads<T>& dw, std::int64_t n, std::int64_t h,
                         std::int64_t f) {
  const size_t nf = static_cast<size_t>(n * f);
  std::vector<T> dact(nf, T(0)), dgate(nf), dup(nf);
  linear_backward<T>(act, w.wd, dy, dact.data(), dw.wd, nullptr, n, f, h);
  for (size_t i = 0; i < nf; ++i) {
    const T s = sigmoid(gate[i]);
    dup[i] = dact[i] * gate[i] * s;
    dgate[i] = dact[i] * up[i] * s * (T(1) + gate[i] * (T(1) - s));
  }
  linear_backward<T>(x, w.wg, dgate.data(), dx, dw.wg, nullptr, n, h, f);
  linear_backward<T>(x, w.wu, dup.data(), dx, dw.wu, nullptr, n, h, f);
}

template void swiglu_mlp_forward<float>(const float*, const SwigluWeights<float>&, float*, float*, float*, float*,
                                        std::int64_t, std::int64_t, std::int64_t);
template void swiglu_mlp_forward<double>(const double*, const SwigluWeights<double>&, double*, double*, double*,
                                         double*, std::int64_t, std::int64_t, std::int64_t);
template void swiglu_mlp_backward<float>(const float*, const SwigluWeights<float>&, const float*, const float*,
                                         const float*, const float*, float*, const SwigluGrads<float>&,
                                         std::int64_t, std::int64_t, std::int64_t);
template void swiglu_mlp_backward<double>(const double*, const SwigluWeights<double>&, const double*,
                                          const double*, const double*, const double*, double*,
                                          const SwigluGrads<double>&, std::int64_t, std::int64_t, std::int64_t);

}  // namespace spindle::engine::cpu
