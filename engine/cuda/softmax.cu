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
                                    std::int64_t rows_per_block) {
  __shared__ float shared[kThreads];
  for (std::int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    float* r = p + row * cols;
    const std::int64_t i = row % rows_per_block;
    const std::int64_t last = causal ? i + (cols - rows_per_block) : cols - 1;
    float mx = -INFINITY;
    for (std::int64_t j = threadIdx.x; j <= last; j += kThreads) mx = fmaxf(mx, r[j]);
    mx = block_max(mx, shared);
    float s = 0;
    for (std::int64_t j = threadIdx.x; j <= last; j += kThreads) s += __expf(r[j] - mx);
    const float inv = 1.0f / block_sum(s, shared);
    for (std::int64_t j = threadIdx.x; j < cols; j += kThreads) r[j] = j <= last ? __expf(r[j] - mx) * inv : 0.0f;
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

__global__ void cross_entropy_rows_kernel(float* p, const std::int32_t* labels, float* loss_rows, std::int64_t n,
                                          std::int64_t vocab) {
  __shared__ float shared[kThreads];
  for (std::int64_t row = blockIdx.x; row < n; row += gridDim.x) {
    float* r = p + row * vocab;
    float mx = -INFINITY;
    for (std::int64_t v = threadIdx.x; v < vocab; v += kThreads) mx = fmaxf(mx, r[v]);
    mx = block_max(mx, shared);
    float s = 0;
    for (std::int64_t v = threadIdx.x; v < vocab; v += kThreads) s += __expf(r[v] - mx);
    const float lse = mx + __logf(block_sum(s, shared));
    if (threadIdx.x == 0) loss_rows[row] = lse - r[labels[row]];
    __syncthreads();  // the label's logit is read before it is overwritten
    for (std::int64_t v = threadIdx.x; v < vocab; v += kThreads) r[v] = __expf(r[v] - lse);
  }
}

__global__ void cross_entropy_backward_kernel(const float* probs, const std::int32_t* labels, float* d, std::int64_t n,
                                              std::int64_t vocab, float scale) {
  SPINDLE_GRID_STRIDE(k, n * vocab) {
    const std::int64_t i = k / vocab, v = k % vocab;
    d[k] = (probs[k] - (v == labels[i] ? 1.0f : 0.0f)) * scale;
  }
}

}  // namespace

void launch_softmax_rows(float* p, std::int64_t rows, std::int64_t cols, bool causal, std::int64_t rows_per_block,
                         cudaStream_t stream) {
  if (rows == 0) return;
  softmax_rows_kernel<<<rows_grid(rows), kThreads, 0, stream>>>(p, rows, cols, causal, rows_per_block);
  SPINDLE_CUDA(cudaGetLastError());
}

void launch_softmax_backward_rows(const float* p, float* d, std::int64_t rows, std::int64_t cols, float scale,
                                  cudaStream_t stream) {
  if (rows == 0) return;
  softmax_backward_rows_kernel<<<rows_grid(rows), kThreads, 0, stream>>>(p, d, rows, cols, scale);
  SPINDLE_CUDA(cudaGetLastError());
}

void launch_cross_entropy_rows(float* p, const std::int32_t* labels, float* loss_rows, std::int64_t n,
                               std::int64_t vocab, cudaStream_t stream) {
  if (n == 0) return;
  cross_entropy_rows_kernel<<<rows_grid(n), kThreads, 0, stream>>>(p, labels, loss_rows, n, vocab);
  SPINDLE_CUDA(cudaGetLastError());
}

void launch_cross_entropy_backward(const float* probs, const std::int32_t* labels, float* d, std::int64_t n,
                                   std::int64_t vocab, float scale, cudaStream_t stream) {
  if (n * vocab == 0) return;
  cross_entropy_backward_kernel<<<grid_for(n * vocab), kThreads, 0, stream>>>(probs, labels, d, n, vocab, scale);
  SPINDLE_CUDA(cudaGetLastError());
}

}  // namespace spindle::engine::cuda
