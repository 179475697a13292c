// Layer norm over the last dimension: y = (x - mean) / sqrt(var + eps) * g + b, per row.
// Forward keeps each row's mean and 1/std for backward. x, y [n, d]; g, b [d]; mean, rstd [n].
#pragma once

#include <cstdint>

namespace spindle::engine::cpu {

inline constexpr double kLayerNormEps = 1e-5;

template <class T>
void layer_norm_forward(const T* x, const T* g, const T* b, T* y, T* mean, T* rstd, std::int64_t n, std::int64_t d);

template <class T>
void layer_norm_backward(const T* x, const T* g, const T* mean, const T* rstd, const T* dy, T* dx, T* dg, T* db,
                         std::int64_t n, std::int64_t d);

}  // namespace spindle::engine::cpu
