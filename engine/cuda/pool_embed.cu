// Mean pooling over token groups and token embedding (gather; the table gradient by float
// atomics) on the GPU (see layer_kernels.h).
#include "engine/cuda/layer_kernels.h"

#include "engine/cuda/cuda_check.h"
#include "engine/cuda/device_helpers.cuh"

namespace spindle::engine::cuda {
namespace {

using namespace detail;

__global__ void mean_pool_kernel(DevPtr x, DevPtr y, std::int64_t batch, std::int64_t seq, std::int64_t out_seq,
                                 std::int64_t width, bool backward) {
  SPINDLE_GRID_STRIDE(k, batch * out_seq * width) {
    const std::int64_t c = k % width, o = (k / width) % out_seq, b = k / (width * out_seq);
    const std::int64_t first = o * seq / out_seq, end = (o + 1) * seq / out_seq;
    const float inv = 1.0f / static_cast<float>(end - first);
    if (!backward) {
      float s = 0;
      for (std::int64_t t = first; t < end; ++t) s += load(x, (b * seq + t) * width + c);
      store(y, k, s * inv);
    } else {  // x: dy [batch, out_seq, width], y: dx [batch, seq, width]; each (b, o, c) owns its tokens
      const float g = load(x, k) * inv;
      for (std::int64_t t = first; t < end; ++t) {
        const std::int64_t at = (b * seq + t) * width + c;
        store(y, at, load(y, at) + g);
      }
    }
  }
}

__global__ void token_embed_kernel(const std::int32_t* ids, DevPtr table, DevPtr y, std::int64_t n, std::int64_t h) {
  SPINDLE_GRID_STRIDE(k, n * h) {
    const std::int64_t i = k / h, c = k % h;
    store(y, k, load(table, static_cast<std::int64_t>(ids[i]) * h + c));
  }
}

__global__ void token_embed_backward_kernel(const std::int32_t* ids, DevPtr dy, float* dtable, std::int64_t n,
                                            std::int64_t h) {
  SPINDLE_GRID_STRIDE(k, n * h) {
    const std::int64_t i = k / h, c = k % h;
    atomicAdd(dtable + static_cast<std::int64_t>(ids[i]) * h + c, load(dy, k));
  }
}

}  // namespace

void launch_mean_pool(DevPtr x, DevPtr y, std::int64_t batch, std::int64_t seq, std::int64_t out_seq,
                      std::int64_t width, bool backward, cudaStream_t stream) {
  if (batch * out_seq * width == 0) return;
  mean_pool_kernel<<<grid_for(batch * out_seq * width), kThreads, 0, stream>>>(x, y, batch, seq, out_seq, width,
                                                                               backward);
  SPINDLE_CUDA(cudaGetLastError());
}

void launch_token_embed(const std::int32_t* ids, DevPtr table, DevPtr y, std::int64_t n, std::int64_t hidden,
                        cudaStream_t stream) {
  if (n * hidden == 0) return;
  token_embed_kernel<<<grid_for(n * hidden), kThreads, 0, stream>>>(ids, table, y, n, hidden);
  SPINDLE_CUDA(cudaGetLastError());
}

void launch_token_embed_backward(const std::int32_t* ids, DevPtr dy, float* dtable, std::int64_t n,
                                 std::int64_t hidden, cudaStream_t stream) {
  if (n * hidden == 0) return;
  token_embed_backward_kernel<<<grid_for(n * hidden), kThreads, 0, stream>>>(ids, dy, dtable, n, hidden);
  SPINDLE_CUDA(cudaGetLastError());
}

}  // namespace spindle::engine::cuda
