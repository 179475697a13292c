// LM head with cross-entropy: logits = x E^T over the vocabulary table E [V, H] (the token
// embedding's own table when tied), loss = mean over the n rows of -log softmax(logits)[label].
// x [n, H]; labels [n] int32. Forward keeps the probabilities [n, V] for backward.
#pragma once

#include <cstdint>

namespace spindle::engine::cpu {

template <class T>
T lm_head_loss_forward(const T* x, const T* table, const std::int32_t* labels, T* probs, std::int64_t n,
                       std::int64_t hidden, std::int64_t vocab);

// dlogits = dloss (probs - onehot(label)) / n; adds dx = dlogits E and dE = dlogits^T x.
template <class T>
void lm_head_loss_backward(const T* x, const T* table, const std::int32_t* labels, const T* probs, T dloss, T* dx,
                           T* dtable, std::int64_t n, std::int64_t hidden, std::int64_t vocab);

}  // namespace spindle::engine::cpu
