// Residual add forward and backward (see residual.h).
#include "engine/cpu/residual.h"

namespace spindle::engine::cpu {

template <class T>
void residual_forward(const T* a, const T* b, T* y, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) y[i] = a[i] + b[i];
}

template <class T>
void residual_backward(const T* dy, T* da, T* db, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) {
    if (da) da[i] += dy[i];
    if (db) db[i] += dy[i];
  }
}

template void residual_forward<float>(const float*, const float*, float*, std::int64_t);
template void residual_forward<double>(const double*, const double*, double*, std::int64_t);
template void residual_backward<float>(const float*, float*, float*, std::int64_t);
template void residual_backward<double>(const double*, double*, double*, std::int64_t);

}  // namespace spindle::engine::cpu
