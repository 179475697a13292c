// Layer norm forward and backward on the GPU (see layer_kernels.h): one block per row for
// the statistics and the input gradient; the gain and bias gradients by columns, in row
// order (deterministic, no atomics).
#include "engine/cuda/layer_kernels.h"

#include "engine/cuda/cuda_check.h"
#include "engine/cuda/device_helpers.cuh"

namespace spindle::engine::cuda {
namespace {

using namespace detail;

__global__ void layer_norm_kernel(DevPtr x, DevPtr g, DevPtr b, DevPtr y, float* mean, float* rstd, std::int64_t n,
                                  std::int64_t d) {
  __shared__ float shared[kThreads];
  for (std::int64_t row = blockIdx.x; row < n; row += gridDim.x) {
    float s = 0;
    for (std::int64_t k = threadIdx.x; k < d; k += kThreads) s += load(x, row * d + k);
    const float m = block_sum(s, shared) / static_cast<float>(d);
    float v = 0;
    for (std::int64_t k = threadIdx.x; k < d; k += kThreads) {
      const float c = load(x, row * d + k) - m;
      v += c * c;
    }
    const float r = rsqrtf(block_sum(v, shared) / static_cast<float>(d) + kLayerNormEps);
    for (std::int64_t k = threadIdx.x; k < d; k += kThreads)
      store(y, row * d + k, (load(x, row * d + k) - m) * r * load(g, k) + load(b, k));
    if (threadIdx.x == 0) {
      mean[row] = m;
      rstd[row] = r;
    }
  }
}

__global__ void layer_norm_backward_rows(DevPtr x, DevPtr g, const float* mean, const float* rstd, DevPtr dy,
                                         DevPtr dx, std::int64_t n, std::int64_t d) {
  __shared__ float shared[kThreads];
  for (std::int64_t row = blockIdx.x; row < n; row += gridDim.x) {
    float s1 = 0, s2 = 0;
    for (std::int64_t k = threadIdx.x; k < d; k += kThreads) {
      const float xhat = (load(x, row * d + k) - mean[row]) * rstd[row];
      const float dxhat = load(dy, row * d + k) * load(g, k);
      s1 += dxhat;
      s2 += dxhat * xhat;
    }
    const float mean_dxhat = block_sum(s1, shared) / static_cast<float>(d);
    const float mean_dxhat_xhat = block_sum(s2, shared) / static_cast<float>(d);
    for (std::int64_t k = threadIdx.x; k < d; k += kThreads) {
      const float xhat = (load(x, row * d + k) - mean[row]) * rstd[row];
      const float add = rstd[row] * (load(dy, row * d + k) * load(g, k) - mean_dxhat - xhat * mean_dxhat_xhat);
      store(dx, row * d + k, load(dx, row * d + k) + add);
    }
  }
}

__global__ void layer_norm_backward_params(DevPtr x, const float* mean, const float* rstd, DevPtr dy, DevPtr dg,
                                           DevPtr db, std::int64_t n, std::int64_t d) {
  SPINDLE_GRID_STRIDE(k, d) {
    float sg = 0, sb = 0;
    for (std::int64_t row = 0; row < n; ++row) {
      const float dyv = load(dy, row * d + k);
      sg += dyv * (load(x, row * d + k) - mean[row]) * rstd[row];
      sb += dyv;
    }
    if (dg.p) store(dg, k, load(dg, k) + sg);
    if (db.p) store(db, k, load(db, k) + sb);
  }
}

}  // namespace

void launch_layer_norm(DevPtr x, DevPtr g, DevPtr b, DevPtr y, float* mean, float* rstd, std::int64_t n,
                       std::int64_t d, cudaStream_t stream) {
  if (n == 0) return;
  layer_norm_kernel<<<rows_grid(n), kThreads, 0, stream>>>(x, g, b, y, mean, rstd, n, d);
  SPINDLE_CUDA(cudaGetLastError());
}

void launch_layer_norm_backward(DevPtr x, DevPtr g, const float* mean, const float* rstd, DevPtr dy, DevPtr dx,
                                DevPtr dg, DevPtr db, std::int64_t n, std::int64_t d, cudaStream_t stream) {
  if (n == 0) return;
  if (dx.p) layer_norm_backward_rows<<<rows_grid(n), kThreads, 0, stream>>>(x, g, mean, rstd, dy, dx, n, d);
  SPINDLE_CUDA(cudaGetLastError());
  if (dg.p || db.p) layer_norm_backward_params<<<grid_for(d), kThreads, 0, stream>>>(x, mean, rstd, dy, dg, db, n, d);
  SPINDLE_CUDA(cudaGetLastError());
}

}  // namespace spindle::engine::cuda
