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

}  // namespace spindle::engine::cpu
