// Pooling along tokens: x [B, S, D] -> y [B, O, D], output token o the mean of input tokens
// [floor(o S / O), floor((o + 1) S / O)). O = 1 pools the whole sequence (CLIP-style heads
// here use the mean, which a causal text tower can learn through); O = S/2 is Qwen-Audio's 2x.
#pragma once

#include <cstdint>

namespace spindle::engine::cpu {

template <class T>
void mean_pool_forward(const T* x, T* y, std::int64_t batch, std::int64_t seq, std::int64_t out_seq,
                       std::int64_t width);

template <class T>
void mean_pool_backward(const T* dy, T* dx, std::int64_t batch, std::int64_t seq, std::int64_t out_seq,
                        std::int64_t width);

}  // namespace spindle::engine::cpu
