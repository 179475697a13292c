// The multi-tensor optimizer kernels (see multi_tensor.h): block row y of the grid works on
// tensor y of the list, its blocks striding over the tensor's elements.
#include "engine/cuda/multi_tensor.h"

#include "engine/cuda/cuda_check.h"
#include "engine/cuda/device_helpers.cuh"

namespace spindle::engine::cuda {
namespace {

using namespace detail;

__global__ void adamw_list_kernel(AdamWList list, float lr, float b1, float b2, float eps, float s, float c1, float c2) {
  const int k = static_cast<int>(blockIdx.y);
  float* w = list.w[k];
  float* m = list.m[k];
  float* v = list.v[k];
  const DevPtr g = list.g[k];
  const float wd = list.weight_decay[k];
  SPINDLE_GRID_STRIDE(i, list.n[k]) {
    const float gi = load(g, i) * s;
    const float mi = b1 * m[i] + (1.0f - b1) * gi, vi = b2 * v[i] + (1.0f - b2) * gi * gi;
    m[i] = mi;
    v[i] = vi;
    const float mhat = mi / c1, vhat = vi / c2;
    w[i] -= lr * (mhat / (sqrtf(vhat) + eps) + wd * w[i]);
  }
}

// Pass 1: block (x, y) writes the sum of squares of its share of tensor y to partials[y gridDim.x + x].
__global__ void sum_squares_list_kernel(SumList list, double* partials) {
  __shared__ double part[kThreads];
  const int k = static_cast<int>(blockIdx.y);
  const std::int64_t slot = static_cast<std::int64_t>(blockIdx.y) * gridDim.x + blockIdx.x;
  // A block past a small tensor's end leaves whole (before any barrier), its partial 0.
  if (static_cast<std::int64_t>(blockIdx.x) * blockDim.x >= list.n[k]) {
    if (threadIdx.x == 0) partials[slot] = 0;
    return;
  }
  double s = 0;
  SPINDLE_GRID_STRIDE(i, list.n[k]) {
    const double v = load(list.t[k], i);
    s += v * v;
  }
  part[threadIdx.x] = s;
  __syncthreads();
  for (int w = kThreads / 2; w > 0; w /= 2) {
    if (static_cast<int>(threadIdx.x) < w) part[threadIdx.x] += part[threadIdx.x + w];
    __syncthreads();
  }
  if (threadIdx.x == 0) partials[slot] = part[0];
}

// Pass 2, one block: *out += the partials, each thread a fixed strided subset, then a tree.
__global__ void sum_partials_kernel(const double* partials, std::int64_t count, double* out) {
  __shared__ double part[kThreads];
  double s = 0;
  for (std::int64_t i = threadIdx.x; i < count; i += kThreads) s += partials[i];
  part[threadIdx.x] = s;
  __syncthreads();
  for (int w = kThreads / 2; w > 0; w /= 2) {
    if (static_cast<int>(threadIdx.x) < w) part[threadIdx.x] += part[threadIdx.x + w];
    __syncthreads();
  }
  if (threadIdx.x == 0) *out += part[0];
}

// Blocks per tensor: enough for the largest, at most `cap` (each strides over the rest).
template <typename List>
dim3 list_grid(const List& list, int cap) {
  std::int64_t most = 1;
  for (int k = 0; k < list.count; ++k) most = list.n[k] > most ? list.n[k] : most;
  const int x = grid_for(most);
  return dim3(static_cast<unsigned>(x < cap ? x : cap), static_cast<unsigned>(list.count));
}

}  // namespace

void launch_adamw_list(const AdamWList& list, float lr, float beta1, float beta2, float eps, float grad_scale, float c1,
                       float c2, cudaStream_t stream) {
  if (list.count == 0) return;
  adamw_list_kernel<<<list_grid(list, 1024), kThreads, 0, stream>>>(list, lr, beta1, beta2, eps, grad_scale, c1, c2);
  SPINDLE_CUDA(cudaGetLastError());
}

void launch_sum_squares_list(const SumList& list, double* out, double* partials, cudaStream_t stream) {
  if (list.count == 0) return;
  const dim3 grid = list_grid(list, kSumBlocksPerTensor);
  sum_squares_list_kernel<<<grid, kThreads, 0, stream>>>(list, partials);
  SPINDLE_CUDA(cudaGetLastError());
  sum_partials_kernel<<<1, kThreads, 0, stream>>>(partials, static_cast<std::int64_t>(grid.x) * grid.y, out);
  SPINDLE_CUDA(cudaGetLastError());
}

}  // namespace spindle::engine::cuda
