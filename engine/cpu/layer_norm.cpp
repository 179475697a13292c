// Layer norm forward and backward (see layer_norm.h). Backward: with xhat = (x - mean) rstd
// and dxhat = dy g, dx = rstd (dxhat - mean(dxhat) - xhat mean(dxhat xhat)).
#include "engine/cpu/layer_norm.h"

#include <cmath>

namespace spindle::engine::cpu {

template <class T>
void layer_norm_forward(const T* x, const T* g, const T* b, T* y, T* mean, T* rstd, std::int64_t n, std::int64_t d) {
  for (std::int64_t i = 0; i < n; ++i) {
    const T* xr = x + i * d;
    T m = 0;
    for (std::int64_t k = 0; k < d; ++k) m += xr[k];
    m /= static_cast<T>(d);
    T var = 0;
    for (std::int64_t k = 0; k < d; ++k) var += (xr[k] - m) * (xr[k] - m);
    var /= static_cast<T>(d);
    const T r = T(1) / std::sqrt(var + static_cast<T>(kLayerNormEps));
    for (std::int64_t k = 0; k < d; ++k) y[i * d + k] = (xr[k] - m) * r * g[k] + b[k];
    mean[i] = m;
    rstd[i] = r;
  }
}

template <class T>
void layer_norm_backward(const T* x, const T* g, const T* mean, const T* rstd, const T* dy, T* dx, T* dg, T* db,
                         std::int64_t n, std::int64_t d) {
  for (std::int64_t i = 0; i < n; ++i) {
    const T* xr = x + i * d;
    const T* dyr = dy + i * d;
    T mean_dxhat = 0, mean_dxhat_xhat = 0;
    for (std::int64_t k = 0; k < d; ++k) {
      const T xhat = (xr[k] - mean[i]) * rstd[i];
      const T dxhat = dyr[k] * g[k];
      mean_dxhat += dxhat;
      mean_dxhat_xhat += dxhat * xhat;
      if (dg) dg[k] += dyr[k] * xhat;
      if (db) db[k] += dyr[k];
    }
    mean_dxhat /= static_cast<T>(d);
    mean_dxhat_xhat /= static_cast<T>(d);
    if (!dx) continue;
    for (std::int64_t k = 0; k < d; ++k) {
      const T xhat = (xr[k] - mean[i]) * rstd[i];
      dx[i * d + k] += rstd[i] * (dyr[k] * g[k] - mean_dxhat - xhat * mean_dxhat_xhat);
    }
  }
}

#define SPINDLE_INSTANTIATE(T)                                                                          \
  template void layer_norm_forward<T>(const T*, const T*, const T*, T*, T*, T*, std::int64_t, std::int64_t); \
  template void layer_norm_backward<T>(const T*, const T*, const T*, const T*, const T*, T*, T*, T*,          \
                                       std::int64_t, std::int64_t);
SPINDLE_INSTANTIATE(float)
SPINDLE_INSTANTIATE(double)
#undef SPINDLE_INSTANTIATE

}  // namespace spindle::engine::cpu
