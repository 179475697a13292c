// The CUDA backend's layer kernels (see layer_kernels.h). Row kernels run one block of
// kThreads per row with shared-memory reductions in a fixed order, so results repeat bitwise.
#include "engine/cuda/layer_kernels.h"

#include <cuda_bf16.h>

#include "engine/cuda/cuda_check.h"

namespace spindle::engine::cuda {
namespace {

constexpr int kThreads = 256;
constexpr float kLayerNormEps = 1e-5f;  // engine/cpu/layer_norm.h's
constexpr float kSqrt2OverPi = 0.7978845608028654f, kCubic = 0.044715f;

__device__ inline float load(DevPtr p, std::int64_t i) {
  return p.bf16 ? __bfloat162float(static_cast<const __nv_bfloat16*>(p.p)[i]) : static_cast<const float*>(p.p)[i];
}
__device__ inline void store(DevPtr p, std::int64_t i, float v) {
  if (p.bf16) static_cast<__nv_bfloat16*>(p.p)[i] = __float2bfloat16_rn(v);
  else static_cast<float*>(p.p)[i] = v;
}

// The sum over the block of each thread's `v` (every thread gets it).
__device__ float block_sum(float v, float* shared) {
  shared[threadIdx.x] = v;
  __syncthreads();
  for (int w = kThreads / 2; w > 0; w /= 2) {
    if (static_cast<int>(threadIdx.x) < w) shared[threadIdx.x] += shared[threadIdx.x + w];
    __syncthreads();
  }
  const float s = shared[0];
  __syncthreads();
  return s;
}
__device__ float block_max(float v, float* shared) {
  shared[threadIdx.x] = v;
  __syncthreads();
  for (int w = kThreads / 2; w > 0; w /= 2) {
    if (static_cast<int>(threadIdx.x) < w) shared[threadIdx.x] = fmaxf(shared[threadIdx.x], shared[threadIdx.x + w]);
    __syncthreads();
  }
  const float s = shared[0];
  __syncthreads();
  return s;
}

int grid_for(std::int64_t n) {
  const std::int64_t b = (n + kThreads - 1) / kThreads;
  return static_cast<int>(b < 65535 ? (b > 0 ? b : 1) : 65535);
}
int rows_grid(std::int64_t rows) { return static_cast<int>(rows < 65535 ? rows : 65535); }

#define SPINDLE_GRID_STRIDE(i, n)                                                                              \
  for (std::int64_t i = blockIdx.x * static_cast<std::int64_t>(blockDim.x) + threadIdx.x; i < (n); \
       i += static_cast<std::int64_t>(gridDim.x) * blockDim.x)

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
