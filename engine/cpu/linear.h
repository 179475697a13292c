// Linear map y = x W^T + b over rows: the GEMM every other kernel is built from.
// x [n, in], W [out, in] (PyTorch layout), b [out] or null. CPU reference, any float type.
// Backward kernels in engine/cpu/ ADD into their gradient outputs (shared weights and
// residual branches accumulate); a null gradient pointer means "not needed".
#pragma once

#include <cstdint>

namespace spindle::engine::cpu {

template <class T>
void linear_forward(const T* x, const T* w, const T* b, T* y, std::int64_t n, std::int64_t in, std::int64_t out);

template <class T>
void linear_backward(const T* x, const T* w, const T* dy, T* dx, T* dw, T* db, std::int64_t n, std::int64_t in,
                     std::int64_t out);

}  // namespace spindle::engine::cpu
