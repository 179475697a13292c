// LM head with cross-entropy: logits = x E^T over the vocabulary table E [V, H] (the token
// embedding's own table when tied), loss = mean over the n rows of -log softmax(logits)[label].
// x [n, H]; labels [n] int32. Chunked over rows so that [n, V] never exists whole (as Liger's
// fused linear cross-entropy): forward keeps each row's log-sum-exp, stats [n]; backward
// recomputes a block of rows' logits at a time from x, E and stats.
#pragma once

#include <cstdint>

namespace spindle::engine::cpu {

// Rows per block: as many as keep a block's logits within this many elements (at least one).
inline constexpr std::int64_t kLmHeadBlockElements = std::int64_t{1} << 20;
std::int64_t lm_head_block_rows(std::int64_t vocab);

// `block_rows`: rows per block, 0 for lm_head_block_rows(vocab) (tests force small blocks).
template <class T>
T lm_head_loss_forward(const T* x, const T* table, const std::int32_t* labels, T* stats, std::int64_t n,
                       std::int64_t hidden, std::int64_t vocab, std::int64_t block_rows = 0);

// dlogits = dloss (softmax - onehot(label)) / n; adds dx = dlogits E and dE = dlogits^T x.
template <class T>
void lm_head_loss_backward(const T* x, const T* table, const std::int32_t* labels, const T* stats, T dloss, T* dx,
                           T* dtable, std::int64_t n, std::int64_t hidden, std::int64_t vocab,
                           std::int64_t block_rows = 0);

}  // namespace spindle::engine::cpu
