// Multi-head scaled dot-product attention with softmax, optionally causal: self-attention
// (Sq = Sk) and cross-attention (queries from one sequence, keys/values from another).
// q [B, Sq, D], k and v [B, Sk, D], D = heads x head dim; out [B, Sq, D]. Forward keeps the
// probabilities P [B, heads, Sq, Sk] for backward (a reference kernel, not a fused one).
// Causal: query i sees keys j <= i + (Sk - Sq) (the ends of the two sequences aligned).
#pragma once

#include <cstdint>

namespace spindle::engine::cpu {

struct AttentionDims {
  std::int64_t batch, q_len, kv_len, width, heads;
  bool causal;
};

template <class T>
void attention_forward(const T* q, const T* k, const T* v, T* out, T* probs, const AttentionDims& d);

template <class T>
void attention_backward(const T* q, const T* k, const T* v, const T* probs, const T* dout, T* dq, T* dk, T* dv,
                        const AttentionDims& d);

}  // namespace spindle::engine::cpu
