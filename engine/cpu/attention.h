// Multi-head scaled dot-product attention with softmax, optionally causal: self-attention
// (Sq = Sk) and cross-attention (queries from one sequence, keys/values from another).
// q [B, Sq, D], k and v [B, Sk, D], D = heads x head dim; out [B, Sq, D]. Memory-lean, as
// FlashAttention and cuDNN's fused attention are: forward keeps only each query row's
// log-sum-exp of its scaled visible scores, stats [B, heads, Sq], never the probabilities
// [B, heads, Sq, Sk]; backward recomputes them one (batch, head) at a time from q, k and stats.
// Causal: query i sees keys j <= i + (Sk - Sq) (the ends of the two sequences aligned).
#pragma once

#include <cstdint>

namespace spindle::engine::cpu {

struct AttentionDims {
  std::int64_t batch, q_len, kv_len, width, heads;
  bool causal;
};

template <class T>
void attention_forward(const T* q, const T* k, const T* v, T* out, T* stats, const AttentionDims& d);

// Adds into dq, dk, dv (dq and dk may be one array).
template <class T>
void attention_backward(const T* q, const T* k, const T* v, const T* stats, const T* dout, T* dq, T* dk, T* dv,
                        const AttentionDims& d);

}  // namespace spindle::engine::cpu
