// Launchers of the CUDA backend's layer kernels, one family per file: layer_norm.cu,
// activations.cu (GELU, SwiGLU), pool_embed.cu (mean pooling, token embedding) and softmax.cu
// (attention's row softmaxes, the LM head's cross-entropy). Each mirrors the CPU kernel of the
// same name in engine/cpu/ (the math is documented there); arithmetic in fp32.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "engine/cuda/elementwise.h"

namespace spindle::engine::cuda {

// x, y [n, d]; g, b [d]; mean, rstd [n] fp32.
void launch_layer_norm(DevPtr x, DevPtr g, DevPtr b, DevPtr y, float* mean, float* rstd, std::int64_t n,
                       std::int64_t d, cudaStream_t stream);
// dx += ...; dg, db += ... (null: not wanted); deterministic (no atomics).
void launch_layer_norm_backward(DevPtr x, DevPtr g, const float* mean, const float* rstd, DevPtr dy, DevPtr dx,
                                DevPtr dg, DevPtr db, std::int64_t n, std::int64_t d, cudaStream_t stream);
// act = gelu(pre) (tanh form); backward: d (holding d act) becomes d pre in place.
void launch_gelu(DevPtr pre, DevPtr act, std::int64_t n, cudaStream_t stream);
void launch_gelu_backward(DevPtr pre, DevPtr d, std::int64_t n, cudaStream_t stream);
// act = silu(gate) up; backward: dgate, dup from dact.
void launch_swiglu(DevPtr gate, DevPtr up, DevPtr act, std::int64_t n, cudaStream_t stream);
void launch_swiglu_backward(DevPtr gate, DevPtr up, DevPtr dact, DevPtr dgate, DevPtr dup, std::int64_t n,
                            cudaStream_t stream);
// x [batch, seq, width] -> y [batch, out_seq, width]; backward adds into dx.
void launch_mean_pool(DevPtr x, DevPtr y, std::int64_t batch, std::int64_t seq, std::int64_t out_seq,
                      std::int64_t width, bool backward, cudaStream_t stream);
// y [n, hidden] = table[ids]; backward: dtable[ids] += dy (float atomics: the order of the
// adds, and so the last bits, may differ run to run where a token repeats).
void launch_token_embed(const std::int32_t* ids, DevPtr table, DevPtr y, std::int64_t n, std::int64_t hidden,
                        cudaStream_t stream);
void launch_token_embed_backward(const std::int32_t* ids, DevPtr dy, float* dtable, std::int64_t n,
                                 std::int64_t hidden, cudaStream_t stream);
// Rows of `cols` scores in place into probabilities exp(s - lse); row i keeps keys
// [0, last_i], last_i = i + shift when causal (shift = cols - rows_per_block), else all; the
// rest get 0. Each row's log-sum-exp over its visible keys is read from lse_in where given
// (backward's recomputation), else computed and written to lse_out (when not null).
void launch_softmax_rows(float* p, std::int64_t rows, std::int64_t cols, bool causal, std::int64_t rows_per_block,
                         const float* lse_in, float* lse_out, cudaStream_t stream);
// Rows of dP in place into dS = P (dP - sum_j P dP) * scale.
void launch_softmax_backward_rows(const float* p, float* d, std::int64_t rows, std::int64_t cols, float scale,
                                  cudaStream_t stream);
// LM head, a block of n rows: from logits [n, vocab], lse[i] = log-sum-exp of row i and
// loss_rows[i] = lse_i - logit[label_i] (the logits are left as they are).
void launch_cross_entropy_rows(const float* logits, const std::int32_t* labels, float* lse, float* loss_rows,
                               std::int64_t n, std::int64_t vocab, cudaStream_t stream);
// d [n, vocab] = (exp(logits - lse) - onehot(label)) * scale (d may be the logits themselves).
void launch_cross_entropy_backward(const float* logits, const float* lse, const std::int32_t* labels, float* d,
                                   std::int64_t n, std::int64_t vocab, float scale, cudaStream_t stream);

}  // namespace spindle::engine::cuda
