// Launchers of the CUDA backend's element-wise kernels (elementwise.cu): copies with dtype
// conversion and accumulation, batch repeat, scale, residual (the optimizer's: multi_tensor.h). A `DevPtr` names
// device memory and whether it holds fp32 or bf16; kernels read and compute in fp32.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace spindle::engine::cuda {

struct DevPtr {
  void* p = nullptr;
  bool bf16 = false;
};

// For b < batch, i < count: dst[b * dst_stride + dst_first + i] (+)= src[b * src_stride + src_first + i].
void launch_copy_blocks(DevPtr src, std::int64_t src_stride, std::int64_t src_first, DevPtr dst,
                        std::int64_t dst_stride, std::int64_t dst_first, std::int64_t batch, std::int64_t count,
                        bool accumulate, cudaStream_t stream);
// dsrc[i] += sum over b < batch of ddst[b * n + i] (also a bias gradient: the column sums of
// dy [rows, cols]).
void launch_sum_blocks(DevPtr ddst, DevPtr dsrc, std::int64_t batch, std::int64_t n, cudaStream_t stream);
void launch_scale(DevPtr t, std::int64_t n, float factor, cudaStream_t stream);
// y = a + b.
void launch_add(DevPtr a, DevPtr b, DevPtr y, std::int64_t n, cudaStream_t stream);

}  // namespace spindle::engine::cuda
