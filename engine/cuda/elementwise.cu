// The CUDA backend's element-wise kernels (see elementwise.h): one thread per element (grid-
// stride), fp32 arithmetic, bf16 loads and stores converted.
#include "engine/cuda/elementwise.h"

#include "engine/cuda/cuda_check.h"
#include "engine/cuda/device_helpers.cuh"

namespace spindle::engine::cuda {
namespace {

using namespace detail;

__global__ void copy_blocks(DevPtr src, std::int64_t ss, std::int64_t sf, DevPtr dst, std::int64_t ds, std::int64_t df,
                            std::int64_t batch, std::int64_t count, bool acc) {
  const std::int64_t n = batch * count;
  SPINDLE_GRID_STRIDE(k, n) {
    const std::int64_t b = k / count, i = k % count;
    const std::int64_t to = b * ds + df + i;
    const float v = load(src, b * ss + sf + i);
    store(dst, to, acc ? load(dst, to) + v : v);
  }
}

__global__ void sum_blocks(DevPtr ddst, DevPtr dsrc, std::int64_t batch, std::int64_t n) {
  SPINDLE_GRID_STRIDE(i, n) {
    float s = load(dsrc, i);
    for (std::int64_t b = 0; b < batch; ++b) s += load(ddst, b * n + i);
    store(dsrc, i, s);
  }
}

__global__ void scale_kernel(DevPtr t, std::int64_t n, float f) {
  SPINDLE_GRID_STRIDE(i, n)
    store(t, i, load(t, i) * f);
}

__global__ void add_kernel(DevPtr a, DevPtr b, DevPtr y, std::int64_t n) {
  SPINDLE_GRID_STRIDE(i, n)
    store(y, i, load(a, i) + load(b, i));
}

}  // namespace

void launch_copy_blocks(DevPtr src, std::int64_t src_stride, std::int64_t src_first, DevPtr dst,
                        std::int64_t dst_stride, std::int64_t dst_first, std::int64_t batch, std::int64_t count,
                        bool accumulate, cudaStream_t stream) {
  if (batch * count == 0) return;
  copy_blocks<<<grid_for(batch * count), kThreads, 0, stream>>>(src, src_stride, src_first, dst, dst_stride,
                                                                   dst_first, batch, count, accumulate);
  SPINDLE_CUDA(cudaGetLastError());
}

void launch_sum_blocks(DevPtr ddst, DevPtr dsrc, std::int64_t batch, std::int64_t n, cudaStream_t stream) {
  if (n == 0) return;
  sum_blocks<<<grid_for(n), kThreads, 0, stream>>>(ddst, dsrc, batch, n);
  SPINDLE_CUDA(cudaGetLastError());
}

void launch_scale(DevPtr t, std::int64_t n, float factor, cudaStream_t stream) {
  if (n == 0) return;
  scale_kernel<<<grid_for(n), kThreads, 0, stream>>>(t, n, factor);
  SPINDLE_CUDA(cudaGetLastError());
}

void launch_add(DevPtr a, DevPtr b, DevPtr y, std::int64_t n, cudaStream_t stream) {
  if (n == 0) return;
  add_kernel<<<grid_for(n), kThreads, 0, stream>>>(a, b, y, n);
  SPINDLE_CUDA(cudaGetLastError());
}


}  // namespace spindle::engine::cuda
