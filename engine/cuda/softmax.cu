// Row softmaxes on the GPU (see layer_kernels.h): attention probabilities with the causal
// mask and their backward, and the LM head's cross-entropy; one block per row, reductions in
// a fixed order.
#include "engine/cuda/layer_kernels.h"

#include "engine/cuda/cuda_check.h"
#include "engine/cuda/device_helpers.cuh"

namespace spindle::engine::cuda {
namespace {

using namespace detail;

__global__ void softmax_rows_kernel(float* p, std::int64_t rows, std::int64_t cols, bool causal,
                                    std::int64_t rows_per_block, const float* lse_in, float* lse_out) {
  __shared__ float shared[kThreads];
  for (std::int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    float* r = p + row * cols;
    const std::int64_t i = row % rows_per_block;
    const std::int64_t last = causal ? i + (cols - rows_per_block) : cols - 1;
    float lse = 0;
    if (lse_in) {
      lse = lse_in[row];
    } else {
      float mx = -INFINITY;
      for (std::int64_t j = threadIdx.x; j <= last; j += kThreads) mx = fmaxf(mx, r[j]);
      mx = block_max(mx, shared);
      float s = 0;
      for (std::int64_t j = threadIdx.x; j <= last; j += kThreads) s += __expf(r[j] - mx);
      lse = mx + __logf(block_sum(s, shared));
      if (lse_out && threadIdx.x == 0) lse_out[row] = lse;
    }
    for (std::int64_t j = threadIdx.x; j < cols; j += kThreads) r[j] = j <= last ? __expf(r[j] - lse) : 0.0f;
  }
}

__global__ void softmax_backward_rows_kernel(const float* p, float* d, std::int64_t rows, std::int64_t cols,
                                             float scale) {
  __shared__ float shared[kThreads];
  for (std::int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const float* pr = p + row * cols;
    float* dr = d + row * cols;
    float s = 0;
    for (std::int64_t j = threadIdx.x; j < cols; j += kThreads) s += pr[j] * dr[j];
    const float dot = block_sum(s, shared);
    for (std::int64_t j = threadIdx.x; j < cols; j += kThreads) dr[j] = pr[j] * (dr[j] - dot) * scale;
  }
}

__global__ void cross_entropy_rows_kernel(const float* logits, const std::int32_t* labels, float* lse_rows,
                                          float* loss_rows, std::int64_t n, std::int64_t vocab) {
  __shared__ float shared[kThreads];
  for (std::int64_t row = blockIdx.x; row < n; row += gridDim.x) {
    const float* r = logits + row * vocab;
    float mx = -INFINITY;
    for (std::int64_t v = threadIdx.x; v < vocab; v += kThreads) mx = fmaxf(mx, r[v]);
    mx = block_max(mx, shared);
    float s = 0;
    for (std::int64_t v = threadIdx.x; v < vocab; v += kThreads) s += __expf(r[v] - mx);
    const float lse = mx + __logf(block_sum(s, shared));
    if (threadIdx.x == 0) {
      lse_rows[row] = lse;
      loss_rows[row] = lse - r[labels[row]];
    }
  }
}

__global__ void cross_entropy_backward_kernel(const float* logits, const float* lse, const std::int32_t* labels,
                                              float* d, std::int64_t n, std::int64_t vocab, float scale) {
  SPINDLE_GRID_STRIDE(k, n * vocab) {
    const std::int64_t i = k / vocab, v = k % vocab;
    d[k] = (__expf(logits[k] - lse[i]) - (v == labels[i] ? 1.0f : 0.0f)) * scale;
  }
}

}  // namespace

void launch_softmax_rows(float* p, std::int64_t rows, std::int64_t cols, bool causal, std::int64_t rows_per_block,
                         const float* lse_in, float* lse_out, cudaStream_t stream) {
  if (rows == 0) return;
  softmax_rows_kernel<<<rows_grid(rows), kThreads, 0, stream>>>(p, rows, cols, causal, rows_per_block, lse_in,
                                                                 lse_out);
  SPINDLE_CUDA(cudaGetLastError());
}

void launch_softmax_backward_rows(const float* p, float* d, std::int64_t rows, std::int64_t cols, float scale,
                                  cudaStream_t stream) {
  if (rows == 0) return;
  softmax_backward_rows_kernel<<<rows_grid(rows), kThreads, 0, stream>>>(p, d, rows, cols, scale);
  SPINDLE_CUDA(cudaGetLastError());
}

void launch_cross_entropy_rows(const float* logits, const std::int32_t* labels, float* lse, float* loss_rows,
                               std::int64_t n, std::int64_t vocab, cudaStream_t stream) {
  if (n == 0) return;
  cross_entropy_rows_kernel<<<rows_grid(n), kThreads, 0, stream>>>(logits, labels, lse, loss_rows, n, vocab);
  SPINDLE_CUDA(cudaGetLastError());
}

void launch_cross_entropy_backward(const float* logits, const float* lse, const std::int32_t* labels, float* d,
                                   std::int64_t n, std::int64_t vocab, float scale, cudaStream_t stream) {
  if (n * vocab == 0) return;
  cross_entropy_backward_kernel<<<grid_for(n * vocab), kThreads, 0, stream>>>(logits, lse, labels, d, n, vocab, scale);
  SPINDLE_CUDA(cudaGetLastError());
}

}  // namespace spindle::engine::cuda
