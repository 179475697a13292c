// Linear map forward and backward (see linear.h): GEMMs through the BLAS wrapper (cpu/blas.h).
#include "engine/cpu/linear.h"

#include "engine/cpu/blas.h"

namespace spindle::engine::cpu {

template <class T>
void linear_forward(const T* x, const T* w, const T* b, T* y, std::int64_t n, std::int64_t in, std::int64_t out) {
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t o = 0; o < out; ++o) y[i * out + o] = b ? b[o] : T(0);
  gemm<T>(false, true, n, out, in, T(1), x, in, w, in, T(1), y, out);  // y += x W^T
}

template <class T>
void linear_backward(const T* x, const T* w, const T* dy, T* dx, T* dw, T* db, std::int64_t n, std::int64_t in,
                     std::int64_t out) {
  if (dx) gemm<T>(false, false, n, in, out, T(1), dy, out, w, in, T(1), dx, in);  // dx += dy W
  if (dw) gemm<T>(true, false, out, in, n, T(1), dy, out, x, in, T(1), dw, in);   // dW += dy^T x
  if (db)
    for (std::int64_t i = 0; i < n; ++i)
      for (std::int64_t o = 0; o < out; ++o) db[o] += dy[i * out + o];
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
