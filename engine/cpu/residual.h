// The residual connection: y = a + b elementwise; backward hands dy to both branches.
#pragma once

#include <cstdint>

namespace spindle::engine::cpu {

template <class T>
void residual_forward(const T* a, const T* b, T* y, std::int64_t n);

template <class T>
void residual_backward(const T* dy, T* da, T* db, std::int64_t n);

}  // namespace spindle::engine::cpu
