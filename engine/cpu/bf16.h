// bf16 on the host: an fp32's top 16 bits, rounded to nearest even (NaN stays NaN), and the
// conversions of host tensors to fp32 and back that the CPU backend and the CPU communicators
// use around their fp32 arithmetic.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "engine/tensor.h"

namespace spindle::engine::cpu {

inline std::uint16_t to_bf16(float x) {
  std::uint32_t u;
  std::memcpy(&u, &x, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<std::uint16_t>((u >> 16) | 0x40u);  // quiet NaN
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<std::uint16_t>(u >> 16);
}

inline float from_bf16(std::uint16_t h) {
  const std::uint32_t u = static_cast<std::uint32_t>(h) << 16;
  float x;
  std::memcpy(&x, &u, 4);
  return x;
}

// n values each way.
void to_bf16(const float* in, std::uint16_t* out, std::size_t n);
void from_bf16(const std::uint16_t* in, float* out, std::size_t n);

// The elements of an fp32 or bf16 host tensor as fp32.
std::vector<float> widen(const Tensor& t);
void widen_into(const Tensor& t, float* out);
// Writes n = t.numel() fp32 values into t (rounded when t is bf16).
void narrow_into(const float* in, Tensor& t);

}  // namespace spindle::engine::cpu
