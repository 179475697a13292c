// Every CPU kernel's backward against central finite differences (see gradient_check.h).
#include <gtest/gtest.h>

#include "engine/cpu/attention.h"
#include "engine/cpu/contrastive_loss.h"
#include "engine/cpu/gelu_mlp.h"
#include "engine/cpu/layer_norm.h"
#include "engine/cpu/linear.h"
#include "engine/cpu/lm_head_loss.h"
#include "engine/cpu/mean_pool.h"
#include "engine/cpu/patch_embed.h"
#include "engine/cpu/residual.h"
#include "engine/cpu/swiglu_mlp.h"
#include "engine/cpu/token_embed.h"
#include "gradient_check.h"

namespace spindle::engine::test {
namespace {

using std::int64_t;

template <class T>
std::vector<T> zeros(size_t n) {
  return std::vector<T>(n, T(0));
}

TEST(KernelGradients, Linear) {
  const int64_t n = 3, in = 4, out = 5;
  const auto r = random_vec(n * out, 1);
  auto fwd = [&]<class T>(const Vecs<T>& x) {
    auto y = zeros<T>(n * out);
    cpu::linear_forward(x[0].data(), x[1].data(), x[2].data(), y.data(), n, in, out);
    return y;
  };
  auto loss = [&]<class T>(const Vecs<T>& x) { return dot(fwd.template operator()<T>(x), r); };
  auto grads = [&]<class T>(const Vecs<T>& x) {
    Vecs<T> g{zeros<T>(n * in), zeros<T>(out * in), zeros<T>(out)};
    const auto dy = as<T>(r);
    cpu::linear_backward(x[0].data(), x[1].data(), dy.data(), g[0].data(), g[1].data(), g[2].data(), n, in, out);
    return g;
  };
  check_gradients("linear", {"x", "w", "b"}, {random_vec(n * in, 2), random_vec(out * in, 3), random_vec(out, 4)},
                  loss, grads);
}

TEST(KernelGradients, LayerNorm) {
  const int64_t n = 3, d = 6;
  const auto r = random_vec(n * d, 11);
  auto loss = [&]<class T>(const Vecs<T>& x) {
    auto y = zeros<T>(n * d), m = zeros<T>(n), s = zeros<T>(n);
    cpu::layer_norm_forward(x[0].data(), x[1].data(), x[2].data(), y.data(), m.data(), s.data(), n, d);
    return dot(y, r);
  };
  auto grads = [&]<class T>(const Vecs<T>& x) {
    auto y = zeros<T>(n * d), m = zeros<T>(n), s = zeros<T>(n);
    cpu::layer_norm_forward(x[0].data(), x[1].data(), x[2].data(), y.data(), m.data(), s.data(), n, d);
    Vecs<T> g{zeros<T>(n * d), zeros<T>(d), zeros<T>(d)};
    const auto dy = as<T>(r);
    cpu::layer_norm_backward(x[0].data(), x[1].data(), m.data(), s.data(), dy.data(), g[0].data(), g[1].data(),
                             g[2].data(), n, d);
    return g;
  };
  check_gradients("layer_norm", {"x", "g", "b"}, {random_vec(n * d, 12), random_vec(d, 13), random_vec(d, 14)}, loss,
                  grads);
}

void attention_case(const char* name, cpu::AttentionDims d, std::uint64_t key) {
  const int64_t nq = d.batch * d.q_len * d.width, nk = d.batch * d.kv_len * d.width;
  const int64_t np = d.batch * d.heads * d.q_len;  // the log-sum-exp stats forward keeps
  const auto r = random_vec(static_cast<size_t>(nq), key);
  auto loss = [&]<class T>(const Vecs<T>& x) {
    auto out = zeros<T>(nq), p = zeros<T>(np);
    cpu::attention_forward(x[0].data(), x[1].data(), x[2].data(), out.data(), p.data(), d);
    return dot(out, r);
  };
  auto grads = [&]<class T>(const Vecs<T>& x) {
    auto out = zeros<T>(nq), p = zeros<T>(np);
    cpu::attention_forward(x[0].data(), x[1].data(), x[2].data(), out.data(), p.data(), d);
    Vecs<T> g{zeros<T>(nq), zeros<T>(nk), zeros<T>(nk)};
    const auto dy = as<T>(r);
    cpu::attention_backward(x[0].data(), x[1].data(), x[2].data(), p.data(), dy.data(), g[0].data(), g[1].data(),
                            g[2].data(), d);
    return g;
  };
  check_gradients(name, {"q", "k", "v"},
                  {random_vec(nq, key + 1), random_vec(nk, key + 2), random_vec(nk, key + 3)}, loss, grads);
}

TEST(KernelGradients, SelfAttentionCausal) { attention_case("attention-causal", {2, 4, 4, 6, 2, true}, 21); }
TEST(KernelGradients, SelfAttention) { attention_case("attention", {2, 4, 4, 6, 3, false}, 31); }
TEST(KernelGradients, CrossAttention) { attention_case("cross-attention", {2, 3, 5, 4, 2, false}, 41); }
// More keys than queries under the causal mask: backward recomputes the mask from the stats.
TEST(KernelGradients, CausalAttentionOverALongerContext) {
  attention_case("attention-causal-context", {2, 3, 5, 4, 2, true}, 51);
}

TEST(KernelGradients, GeluMlp) {
  const int64_t n = 3, h = 4, f = 6;
  const auto r = random_vec(n * h, 51);
  auto run = [&]<class T>(const Vecs<T>& x, auto& pre, auto& act) {
    auto y = zeros<T>(n * h);
    cpu::gelu_mlp_forward<T>(x[0].data(), {x[1].data(), x[2].data(), x[3].data(), x[4].data()}, pre.data(),
                             act.data(), y.data(), n, h, f);
    return y;
  };
  auto loss = [&]<class T>(const Vecs<T>& x) {
    auto pre = zeros<T>(n * f), act = zeros<T>(n * f);
    return dot(run.template operator()<T>(x, pre, act), r);
  };
  auto grads = [&]<class T>(const Vecs<T>& x) {
    auto pre = zeros<T>(n * f), act = zeros<T>(n * f);
    run.template operator()<T>(x, pre, act);
    Vecs<T> g{zeros<T>(n * h), zeros<T>(f * h), zeros<T>(f), zeros<T>(h * f), zeros<T>(h)};
    const auto dy = as<T>(r);
    cpu::gelu_mlp_backward<T>(x[0].data(), {x[1].data(), x[2].data(), x[3].data(), x[4].data()}, pre.data(),
                              act.data(), dy.data(), g[0].data(), {g[1].data(), g[2].data(), g[3].data(), g[4].data()},
                              n, h, f);
    return g;
  };
  check_gradients("gelu_mlp", {"x", "w1", "b1", "w2", "b2"},
                  {random_vec(n * h, 52), random_vec(f * h, 53, 0.5), random_vec(f, 54), random_vec(h * f, 55, 0.5),
                   random_vec(h, 56)},
                  loss, grads);
}

TEST(KernelGradients, SwigluMlp) {
  const int64_t n = 3, h = 4, f = 6;
  const auto r = random_vec(n * h, 61);
  auto run = [&]<class T>(const Vecs<T>& x, auto& gate, auto& up, auto& act) {
    auto y = zeros<T>(n * h);
    cpu::swiglu_mlp_forward<T>(x[0].data(), {x[1].data(), x[2].data(), x[3].data()}, gate.data(), up.data(),
                               act.data(), y.data(), n, h, f);
    return y;
  };
  auto loss = [&]<class T>(const Vecs<T>& x) {
    auto gate = zeros<T>(n * f), up = zeros<T>(n * f), act = zeros<T>(n * f);
    return dot(run.template operator()<T>(x, gate, up, act), r);
  };
  auto grads = [&]<class T>(const Vecs<T>& x) {
    auto gate = zeros<T>(n * f), up = zeros<T>(n * f), act = zeros<T>(n * f);
    run.template operator()<T>(x, gate, up, act);
    Vecs<T> g{zeros<T>(n * h), zeros<T>(f * h), zeros<T>(f * h), zeros<T>(h * f)};
    const auto dy = as<T>(r);
    cpu::swiglu_mlp_backward<T>(x[0].data(), {x[1].data(), x[2].data(), x[3].data()}, gate.data(), up.data(),
                                act.data(), dy.data(), g[0].data(), {g[1].data(), g[2].data(), g[3].data()}, n, h, f);
    return g;
  };
  check_gradients("swiglu_mlp", {"x", "wg", "wu", "wd"},
                  {random_vec(n * h, 62), random_vec(f * h, 63, 0.5), random_vec(f * h, 64, 0.5),
                   random_vec(h * f, 65, 0.5)},
                  loss, grads);
}

TEST(KernelGradients, Residual) {
  const int64_t n = 7;
  const auto r = random_vec(n, 71);
  auto loss = [&]<class T>(const Vecs<T>& x) {
    auto y = zeros<T>(n);
    cpu::residual_forward(x[0].data(), x[1].data(), y.data(), n);
    return dot(y, r);
  };
  auto grads = [&]<class T>(const Vecs<T>&) {
    Vecs<T> g{zeros<T>(n), zeros<T>(n)};
    const auto dy = as<T>(r);
    cpu::residual_backward(dy.data(), g[0].data(), g[1].data(), n);
    return g;
  };
  check_gradients("residual", {"a", "b"}, {random_vec(n, 72), random_vec(n, 73)}, loss, grads);
}

TEST(KernelGradients, MeanPool) {
  const int64_t b = 2, s = 5, o = 2, d = 3;  // uneven windows: tokens [0,2) and [2,5)
  const auto r = random_vec(b * o * d, 81);
  auto loss = [&]<class T>(const Vecs<T>& x) {
    auto y = zeros<T>(b * o * d);
    cpu::mean_pool_forward(x[0].data(), y.data(), b, s, o, d);
    return dot(y, r);
  };
  auto grads = [&]<class T>(const Vecs<T>&) {
    Vecs<T> g{zeros<T>(b * s * d)};
    const auto dy = as<T>(r);
    cpu::mean_pool_backward(dy.data(), g[0].data(), b, s, o, d);
    return g;
  };
  check_gradients("mean_pool", {"x"}, {random_vec(b * s * d, 82)}, loss, grads);
}

TEST(KernelGradients, PatchEmbed) {
  const int64_t b = 2, t = 3, p = 4, h = 5;
  const auto r = random_vec(b * t * h, 91);
  // inputs: w, bias, pos (differentiated), then the raw features x
  auto loss = [&]<class T>(const Vecs<T>& x) {
    auto y = zeros<T>(b * t * h);
    cpu::patch_embed_forward(x[3].data(), x[0].data(), x[1].data(), x[2].data(), y.data(), b, t, p, h);
    return dot(y, r);
  };
  auto grads = [&]<class T>(const Vecs<T>& x) {
    Vecs<T> g{zeros<T>(h * p), zeros<T>(h), zeros<T>(t * h)};
    const auto dy = as<T>(r);
    cpu::patch_embed_backward(x[3].data(), dy.data(), g[0].data(), g[1].data(), g[2].data(), b, t, p, h);
    return g;
  };
  check_gradients("patch_embed", {"w", "bias", "pos"},
                  {random_vec(h * p, 92), random_vec(h, 93), random_vec(t * h, 94), random_vec(b * t * p, 95)}, loss,
                  grads);
}

TEST(KernelGradients, TokenEmbed) {
  const int64_t b = 2, t = 3, v = 5, h = 4;
  const std::vector<std::int32_t> ids{0, 3, 3, 4, 1, 3};  // repeats: rows accumulate
  const auto r = random_vec(b * t * h, 101);
  auto loss = [&]<class T>(const Vecs<T>& x) {
    auto y = zeros<T>(b * t * h);
    cpu::token_embed_forward(ids.data(), x[0].data(), y.data(), b, t, v, h);
    return dot(y, r);
  };
  auto grads = [&]<class T>(const Vecs<T>&) {
    Vecs<T> g{zeros<T>(v * h)};
    const auto dy = as<T>(r);
    cpu::token_embed_backward(ids.data(), dy.data(), g[0].data(), b, t, h);
    return g;
  };
  check_gradients("token_embed", {"table"}, {random_vec(v * h, 102)}, loss, grads);
}

TEST(KernelGradients, ContrastiveLoss) {
  const int64_t b = 4, d = 5;
  const double s = 1.0 / 0.07;
  auto loss = [&]<class T>(const Vecs<T>& x) {
    return cpu::contrastive_loss_forward(x[0].data(), x[1].data(), b, d, static_cast<T>(s));
  };
  auto grads = [&]<class T>(const Vecs<T>& x) {
    Vecs<T> g{zeros<T>(b * d), zeros<T>(b * d)};
    cpu::contrastive_loss_backward(x[0].data(), x[1].data(), T(1), g[0].data(), g[1].data(), b, d, static_cast<T>(s));
    return g;
  };
  check_gradients("contrastive_loss", {"a", "b"}, {random_vec(b * d, 111), random_vec(b * d, 112)}, loss, grads);
}

// A device's share of a data-parallel contrastive loss (rows [1, 3) of 5): its gradient, and
// the shares of a partition summing to the loss.
TEST(KernelGradients, ContrastiveLossShare) {
  const int64_t b = 5, d = 4, first = 1, last = 3;
  const double s = 1.0 / 0.07;
  auto loss = [&]<class T>(const Vecs<T>& x) {
    return cpu::contrastive_loss_share(x[0].data(), x[1].data(), b, d, static_cast<T>(s), first, last);
  };
  auto grads = [&]<class T>(const Vecs<T>& x) {
    Vecs<T> g{zeros<T>(b * d), zeros<T>(b * d)};
    cpu::contrastive_loss_share_backward(x[0].data(), x[1].data(), T(1), g[0].data(), g[1].data(), b, d,
                                         static_cast<T>(s), first, last);
    return g;
  };
  const auto a = random_vec(b * d, 113), c = random_vec(b * d, 114);
  check_gradients("contrastive_loss_share", {"a", "b"}, {a, c}, loss, grads);
  const double whole = cpu::contrastive_loss_forward(a.data(), c.data(), b, d, s);
  const double parts = cpu::contrastive_loss_share(a.data(), c.data(), b, d, s, int64_t{0}, first) +
                       cpu::contrastive_loss_share(a.data(), c.data(), b, d, s, first, last) +
                       cpu::contrastive_loss_share(a.data(), c.data(), b, d, s, last, b);
  EXPECT_NEAR(parts, whole, 1e-12);
}

// In one block of rows and in blocks of 1 and 3 rows (forward and backward recompute a block's
// logits at a time; the stats are all that crosses from forward to backward).
void lm_head_case(std::int64_t block_rows) {
  const int64_t n = 4, h = 3, v = 6;
  const std::vector<std::int32_t> labels{0, 5, 2, 5};
  auto loss = [&]<class T>(const Vecs<T>& x) {
    auto stats = zeros<T>(n);
    return cpu::lm_head_loss_forward(x[0].data(), x[1].data(), labels.data(), stats.data(), n, h, v, block_rows);
  };
  auto grads = [&]<class T>(const Vecs<T>& x) {
    auto stats = zeros<T>(n);
    cpu::lm_head_loss_forward(x[0].data(), x[1].data(), labels.data(), stats.data(), n, h, v, block_rows);
    Vecs<T> g{zeros<T>(n * h), zeros<T>(v * h)};
    cpu::lm_head_loss_backward(x[0].data(), x[1].data(), labels.data(), stats.data(), T(1), g[0].data(), g[1].data(),
                               n, h, v, block_rows);
    return g;
  };
  check_gradients("lm_head_loss", {"x", "table"}, {random_vec(n * h, 121), random_vec(v * h, 122)}, loss, grads);
}

TEST(KernelGradients, LmHeadLoss) { lm_head_case(0); }
TEST(KernelGradients, LmHeadLossInBlocksOfRows) {
  lm_head_case(1);
  lm_head_case(3);
}

// Known values: a contrastive loss at chance is ln B; a perfectly aligned batch is far below.
TEST(KernelValues, ContrastiveLossChanceAndAligned) {
  const int64_t b = 8, d = 8;
  std::vector<double> same(b * d, 1.0);
  EXPECT_NEAR(cpu::contrastive_loss_forward(same.data(), same.data(), b, d, 1.0 / 0.07), std::log(8.0), 1e-9);
  std::vector<double> eye(b * d, 0.0);
  for (int64_t i = 0; i < b; ++i) eye[static_cast<size_t>(i * d + i)] = 1.0;
  EXPECT_LT(cpu::contrastive_loss_forward(eye.data(), eye.data(), b, d, 1.0 / 0.07), 1e-4);
}

}  // namespace
}  // namespace spindle::engine::test
