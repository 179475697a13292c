// GELU (tanh form) and SwiGLU activations and their gradients on the GPU (see
// layer_kernels.h), element-wise.
#include "engine/cuda/layer_kernels.h"

#include "engine/cuda/cuda_check.h"
#include "engine/cuda/device_helpers.cuh"

namespace spindle::engine::cuda {
namespace {

using namespace detail;

__device__ inline float tanh_fast(float u) { return 1.0f - 2.0f / (1.0f + __expf(2.0f * u)); }

__global__ void gelu_kernel(DevPtr pre, DevPtr act, std::int64_t n) {
  SPINDLE_GRID_STRIDE(i, n) {
    const float a = load(pre, i);
    const float u = kSqrt2OverPi * (a + kCubic * a * a * a);
    store(act, i, 0.5f * a * (1.0f + tanh_fast(u)));
  }
}

__global__ void gelu_backward_kernel(DevPtr pre, DevPtr d, std::int64_t n) {
  SPINDLE_GRID_STRIDE(i, n) {
    const float a = load(pre, i);
    const float u = kSqrt2OverPi * (a + kCubic * a * a * a);
    const float t = tanh_fast(u);
    const float du = kSqrt2OverPi * (1.0f + 3.0f * kCubic * a * a);
    store(d, i, load(d, i) * (0.5f * (1.0f + t) + 0.5f * a * (1.0f - t * t) * du));
  }
}

__global__ void swiglu_kernel(DevPtr gate, DevPtr up, DevPtr act, std::int64_t n) {
  SPINDLE_GRID_STRIDE(i, n) {
    const float gv = load(gate, i);
    store(act, i, gv / (1.0f + __expf(-gv)) * load(up, i));
  }
}

__global__ void swiglu_backward_kernel(DevPtr gate, DevPtr up, DevPtr dact, DevPtr dgate, DevPtr dup, std::int64_t n) {
  SPINDLE_GRID_STRIDE(i, n) {
    const float gv = load(gate, i), s = 1.0f / (1.0f + __expf(-gv)), da = load(dact, i);
    store(dup, i, da * gv * s);
    store(dgate, i, da * load(up, i) * s * (1.0f + gv * (1.0f - s)));
  }
}

}  // namespace

void launch_gelu(DevPtr pre, DevPtr act, std::int64_t n, cudaStream_t stream) {
  if (n == 0) return;
  gelu_kernel<<<grid_for(n), kThreads, 0, stream>>>(pre, act, n);
  SPINDLE_CUDA(cudaGetLastError());
}

void launch_gelu_backward(DevPtr pre, DevPtr d, std::int64_t n, cudaStream_t stream) {
  if (n == 0) return;
  gelu_backward_kernel<<<grid_for(n), kThreads, 0, stream>>>(pre, d, n);
  SPINDLE_CUDA(cudaGetLastError());
}

void launch_swiglu(DevPtr gate, DevPtr up, DevPtr act, std::int64_t n, cudaStream_t stream) {
  if (n == 0) return;
  swiglu_kernel<<<grid_for(n), kThreads, 0, stream>>>(gate, up, act, n);
  SPINDLE_CUDA(cudaGetLastError());
}

void launch_swiglu_backward(DevPtr gate, DevPtr up, DevPtr dact, DevPtr dgate, DevPtr dup, std::int64_t n,
                            cudaStream_t stream) {
  if (n == 0) return;
  swiglu_backward_kernel<<<grid_for(n), kThreads, 0, stream>>>(gate, up, dact, dgate, dup, n);
  SPINDLE_CUDA(cudaGetLastError());
}

}  // namespace spindle::engine::cuda
