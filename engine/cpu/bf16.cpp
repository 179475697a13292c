// Host bf16 conversions (see bf16.h).
#include "engine/cpu/bf16.h"

#include "traces/errors.h"

namespace spindle::engine::cpu {

void to_bf16(const float* in, std::uint16_t* out, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) out[i] = to_bf16(in[i]);
}

void from_bf16(const std::uint16_t* in, float* out, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) out[i] = from_bf16(in[i]);
}

void widen_into(const Tensor& t, float* out) {
  const auto n = static_cast<size_t>(t.numel());
  if (t.dtype() == DType::kF32) {
    std::memcpy(out, t.f32(), n * 4);
  } else if (t.dtype() == DType::kBF16) {
    from_bf16(t.bf16(), out, n);
  } else {
    throw InternalError(std::string("widen: a ") + dtype_name(t.dtype()) + " tensor is not a float tensor");
  }
}

std::vector<float> widen(const Tensor& t) {
  std::vector<float> v(static_cast<size_t>(t.numel()));
  widen_into(t, v.data());
  return v;
}

void narrow_into(const float* in, Tensor& t) {
  const auto n = static_cast<size_t>(t.numel());
  if (t.dtype() == DType::kF32) {
    std::memcpy(t.f32(), in, n * 4);
  } else if (t.dtype() == DType::kBF16) {
    to_bf16(in, t.bf16(), n);
  } else {
    throw InternalError(std::string("narrow: a ") + dtype_name(t.dtype()) + " tensor is not a float tensor");
  }
}

}  // namespace spindle::engine::cpu
