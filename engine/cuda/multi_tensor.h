// Launchers of the CUDA backend's multi-tensor kernels (multi_tensor.cu), as Apex's
// multi_tensor_apply runs a fused optimizer: one launch updates (or reduces) a list of up to
// kAdamWTensors (kSumTensors) tensors passed by value in the kernel's parameters, a block row
// per tensor, so a step over a model's hundreds of weight tensors costs a few launches, not one
// per tensor.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "engine/cuda/elementwise.h"

namespace spindle::engine::cuda {

// Apex's limits for 4 and 1 lists of tensors (multi_tensor_apply.cuh: depth_to_max_tensors),
// which keep the parameters under CUDA's 4 KiB.
inline constexpr int kAdamWTensors = 36;
inline constexpr int kSumTensors = 110;
// The sum of squares reduces in two passes, each block's partial into `partials` and then one
// block adding them in a fixed order: the same bits every run (an atomic add per block would
// not be). At most kSumBlocksPerTensor blocks per tensor.
inline constexpr int kSumBlocksPerTensor = 256;
inline constexpr int kSumPartials = kSumBlocksPerTensor * kSumTensors;

struct AdamWList {
  float* w[kAdamWTensors];
  DevPtr g[kAdamWTensors];
  float* m[kAdamWTensors];
  float* v[kAdamWTensors];
  float weight_decay[kAdamWTensors];
  std::int64_t n[kAdamWTensors];
  int count = 0;
};

struct SumList {
  DevPtr t[kSumTensors];
  std::int64_t n[kSumTensors];
  int count = 0;
};

// AdamW (engine/cpu/adamw.h's update, the gradient times grad_scale) on every tensor of the list;
// c1, c2 the bias corrections 1 - beta^step.
void launch_adamw_list(const AdamWList& list, float lr, float beta1, float beta2, float eps, float grad_scale, float c1,
                       float c2, cudaStream_t stream);
// *out (device double) += the sum of squares of every tensor of the list; `partials`: device
// scratch of kSumPartials doubles.
void launch_sum_squares_list(const SumList& list, double* out, double* partials, cudaStream_t stream);

}  // namespace spindle::engine::cuda
