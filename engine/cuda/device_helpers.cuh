// Device-side helpers the CUDA backend's kernel files share: fp32/bf16 loads and stores
// through a DevPtr, block-wide sum and max in shared memory (every thread of a block of
// kThreads gets the result; call from all threads, outside divergent branches), grid sizes
// and the grid-stride loop. Included by the .cu files only.
#pragma once

#include <cuda_bf16.h>

#include <cstdint>

#include "engine/cuda/elementwise.h"

namespace spindle::engine::cuda::detail {

constexpr int kThreads = 256;
constexpr float kLayerNormEps = 1e-5f;  // engine/cpu/layer_norm.h's
constexpr float kSqrt2OverPi = 0.7978845608028654f, kCubic = 0.044715f;

__device__ inline float load(DevPtr p, std::int64_t i) {
  return p.bf16 ? __bfloat162float(static_cast<const __nv_bfloat16*>(p.p)[i]) : static_cast<const float*>(p.p)[i];
}
__device__ inline void store(DevPtr p, std::int64_t i, float v) {
  if (p.bf16) static_cast<__nv_bfloat16*>(p.p)[i] = __float2bfloat16_rn(v);
  else static_cast<float*>(p.p)[i] = v;
}

// The sum over the block of each thread's `v` (every thread gets it).
__device__ inline float block_sum(float v, float* shared) {
  shared[threadIdx.x] = v;
  __syncthreads();
  for (int w = kThreads / 2; w > 0; w /= 2) {
    if (static_cast<int>(threadIdx.x) < w) shared[threadIdx.x] += shared[threadIdx.x + w];
    __syncthreads();
  }
  const float s = shared[0];
  __syncthreads();
  return s;
}
__device__ inline float block_max(float v, float* shared) {
  shared[threadIdx.x] = v;
  __syncthreads();
  for (int w = kThreads / 2; w > 0; w /= 2) {
    if (static_cast<int>(threadIdx.x) < w) shared[threadIdx.x] = fmaxf(shared[threadIdx.x], shared[threadIdx.x + w]);
    __syncthreads();
  }
  const float s = shared[0];
  __syncthreads();
  return s;
}

inline int grid_for(std::int64_t n) {
  const std::int64_t b = (n + kThreads - 1) / kThreads;
  return static_cast<int>(b < 65535 ? (b > 0 ? b : 1) : 65535);
}
inline int rows_grid(std::int64_t rows) { return static_cast<int>(rows < 65535 ? rows : 65535); }

#define SPINDLE_GRID_STRIDE(i, n)                                                                              \
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < (n); \
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x)

}  // namespace spindle::engine::cuda::detail
