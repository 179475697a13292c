// Contrastive InfoNCE loss of CLIP over a batch of paired embeddings a, b [B, D]: rows are
// L2-normalised, logits L = s a^ b^T with s = 1 / temperature, and the loss is the mean of
// the cross-entropies of matching row i to column i both ways. Chance level: ln B.
#pragma once

#include <cstdint>

namespace spindle::engine::cpu {

template <class T>
T contrastive_loss_forward(const T* a, const T* b, std::int64_t batch, std::int64_t width, T inv_temperature);

// Adds dloss x d(loss)/da and d(loss)/db into da, db.
template <class T>
void contrastive_loss_backward(const T* a, const T* b, T dloss, T* da, T* db, std::int64_t batch, std::int64_t width,
                               T inv_temperature);

// The share of the loss of rows [first, last): the terms of row i's and column i's
// cross-entropies for i in the range, still divided by 2B, so the shares of a partition of
// the batch sum to the loss (a device of a data-parallel loss computes its rows' share).
template <class T>
T contrastive_loss_share(const T* a, const T* b, std::int64_t batch, std::int64_t width, T inv_temperature,
                         std::int64_t first, std::int64_t last);
// Adds dloss x the gradient of that share into da, db (all B rows of both).
template <class T>
void contrastive_loss_share_backward(const T* a, const T* b, T dloss, T* da, T* db, std::int64_t batch,
                                     std::int64_t width, T inv_temperature, std::int64_t first, std::int64_t last);

}  // namespace spindle::engine::cpu
