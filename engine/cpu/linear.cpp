// Linear map forward and backward (see linear.h): plain loops, rows outermost.
#include "engine/cpu/linear.h"

namespace spindle::engine::cpu {

template <class T>
void linear_forward(const T* x, const T* w, const T* b, T* y, std::int64_t n, std::int64_t in, std::int64_t out) {
  for (std::int64_t i = 0; i < n; ++i) {
    const T* xr = x + i * in;
    for (std::int64_t o = 0; o < out; ++o) {
      const T* wr = w + o * in;
      T acc = b ? b[o] : T(0);
      for (std::int64_t k = 0; k < in; ++k) acc += xr[k] * wr[k];
      y[i * out + o] = acc;
    }
  }
}

template <class T>
void linear_backward(const T* x, const T* w, const T* dy, T* dx, T* dw, T* db, std::int64_t n, std::int64_t in,
                     std::int64_t out) {
  for (std::int64_t i = 0; i < n; ++i) {
    const T* dyr = dy + i * out;
    const T* xr = x + i * in;
    for (std::int64_t o = 0; o < out; ++o) {
      const T d = dyr[o];
      if (dx) {
        const T* wr = w + o * in;
        T* dxr = dx + i * in;
        for (std::int64_t k = 0; k < in; ++k) dxr[k] += d * wr[k];
      }
      if (dw) {
        T* dwr = dw + o * in;
        for (std::int64_t k = 0; k < in; ++k) dwr[k] += d * xr[k];
      }
      if (db) db[o] += d;
    }
  }
}

template void linear_forward<float>(const float*, const float*, const float*, float*, std::int64_t, std::int64_t,
                                    std::int64_t);
template void linear_forward<double>(const double*, const double*, const double*, double*, std::int64_t,
                                     std::int64_t, std::int64_t);
template void linear_backward<float>(const float*, const float*, const float*, float*, float*, float*, std::int64_t,
                                     std::int64_t, std::int64_t);
template void linear_backward<double>(const double*, const double*, const double*, double*, double*, double*,
                                      std::int64_t, std::int64_t, std::int64_t);

}  // namespace spindle::engine::cpu
