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

__global__ void sum_squares_list_kernel(SumList list, double* out) {
  __shared__ double part[kThreads];
  const int k = static_cast<int>(blockIdx.y);
  // A block past a small tensor's end leaves whole (before any barrier): no empty reduction and
  // no atomic add of zero, which a list of one large tensor and many biases would launch by the
  // hundred thousand.
  if (static_cast<std::int64_t>(blockIdx.x) * blockDim.x >= list.n[k]) return;
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
  if (threadIdx.x == 0) atomicAdd(out, part[0]);
}

// Blocks per tensor: enough for the largest, at most 1024 (each strides over the rest).
template <typename List>
dim3 list_grid(const List& list) {
  std::int64_t most = 1;
  for (int k = 0; k < list.count; ++k) most = list.n[k] > most ? list.n[k] : most;
  const int x = grid_for(most);
  return dim3(static_cast<unsigned>(x < 1024 ? x : 1024), static_cast<unsigned>(list.count));
}

}  // namespace

void launch_adamw_list(const AdamWList& list, float lr, float beta1, float beta2, float eps, float grad_scale, float c1,
                       float c2, cudaStream_t stream) {
  if (list.count == 0) return;
  adamw_list_kernel<<<list_grid(list), kThreads, 0, stream>>>(list, lr, beta1, beta2, eps, grad_scale, c1, c2);
  SPINDLE_CUDA(cudaGetLastError());
}

void launch_sum_squares_list(const SumList& list, double* out, cudaStream_t stream) {
  if (list.count == 0) return;
  sum_squares_list_kernel<<<list_grid(list), kThreads, 0, stream>>>(list, out);
  SPINDLE_CUDA(cudaGetLastError());
}

}  // namespace spindle::engine::cuda
