// The CUDA backend (see cuda_backend.h): device memory from a caching allocator
// (device_cache.h), every call queued on the calling thread's stream (the compute stream, or the
// side stream after use_side_stream: a rank's weight-sync thread), GEMMs through cuBLASLt (bias
// epilogue), element-wise and row kernels in elementwise.cu and layer_kernels.h's files, each
// mirroring the CPU kernel of the same name; InfoNCE (a B x B problem) on the host. Host
// transfers synchronise the calling thread's stream. The linear, MLP and patch-embedding GEMMs on
// bf16 activations run on bf16 operands (bf16 copies of the fp32 weights, made per call) with
// fp32 accumulation, as the CPU backend emulates; attention's and the LM head's GEMMs run in fp32
// (bf16 tensors through fp32 copies). Unlike the CPU backend, which keeps a kernel call's
// intermediates in fp32, the MLPs and the patch embedding here round what passes between their
// GEMMs and element-wise kernels to the storage dtype, so under bf16 the two backends differ by
// more than one rounding. Attention is unfused but memory-lean (one head's probabilities at a
// time, each row's log-sum-exp kept and the probabilities recomputed in backward), and so is the
// LM head (a block of rows' logits at a time); the backend-ops test
// (tests/engine/backend_ops_test.cpp) compares it with the CPU backend.
#include "engine/cuda/cuda_backend.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "engine/cpu/bf16.h"
#include "engine/cpu/contrastive_loss.h"
#include "engine/cpu/lm_head_loss.h"
#include "engine/cuda/cuda_check.h"
#include "engine/cuda/cuda_streams.h"
#include "engine/cuda/device_cache.h"
#include "engine/cuda/elementwise.h"
#include "engine/cuda/gemm.h"
#include "engine/cuda/layer_kernels.h"
#include "engine/cuda/multi_tensor.h"
#include "planner/program/lowering.h"

namespace spindle::engine {

// The simulator charges the optimizer's launches as these lists batch them.
static_assert(cuda::kAdamWTensors == kStepTensorsPerLaunch && cuda::kSumTensors == kNormTensorsPerLaunch);
namespace {

using cuda::DevPtr;

void expect(bool ok, const char* kernel, const std::string& what) {
  if (!ok) throw InternalError(std::string("cuda ") + kernel + ": " + what);
}

DevPtr dev_ptr(const Tensor& t) {
  expect(t.dtype() != DType::kI32 || t.empty(), "kernel", "an int32 tensor where floats go");
  return DevPtr{t.data(), t.dtype() == DType::kBF16};
}

// The element types of a GEMM: A and B (one type), C and D (one type); fp32 accumulation.
struct GemmTypes {
  cudaDataType ab = CUDA_R_32F, cd = CUDA_R_32F;
};

// The device this process uses: its local rank's under mpirun or srun (one process per GPU;
// the NCCL communicator refuses more ranks than GPUs), else device 0.
int local_device(int devices) { return cuda::local_rank() % devices; }

class CudaBackend final : public Backend {
 public:
  CudaBackend() {
    int devices = 0;
    const cudaError_t status = cudaGetDeviceCount(&devices);
    if (status != cudaSuccess || devices == 0)
      throw InputError(std::string("--backend cuda: no CUDA device found (") +
                       (status != cudaSuccess ? cudaGetErrorString(status) : "cudaGetDeviceCount: 0 devices") +
                       "); allowed: --backend cpu, or a machine with an NVIDIA GPU");
    device_ = local_device(devices);
    SPINDLE_CUDA(cudaSetDevice(device_));
    SPINDLE_CUBLAS(cublasLtCreate(&lt_));
    try {
      compute_ = std::make_unique<Lane>();
      side_ = std::make_unique<Lane>();
    } catch (...) {
      side_.reset();
      compute_.reset();
      cublasLtDestroy(lt_);
      throw;
    }
  }
  ~CudaBackend() override {
    cudaSetDevice(device_);
    side_.reset();
    compute_.reset();
    cublasLtDestroy(lt_);
  }

  // Streams: the compute stream, and the side stream for the thread that asks (made up front,
  // so the sync thread never allocates a stream or a workspace while the device is busy).
  void use_side_stream() override {
    on_device();
    tl_side_of = serial_;
  }
  std::shared_ptr<const TimeMark> time_mark() override {
    on_device();
    auto m = std::make_shared<CudaMark>();
    SPINDLE_CUDA(cudaEventRecord(m->event, stream()));
    return m;
  }
  double elapsed_ms(const TimeMark& a, const TimeMark& b) override {
    const auto* ca = dynamic_cast<const CudaMark*>(&a);
    const auto* cb = dynamic_cast<const CudaMark*>(&b);
    if (ca == nullptr || cb == nullptr) throw InternalError("elapsed_ms: a mark of another backend");
    SPINDLE_CUDA(cudaEventSynchronize(ca->event));
    SPINDLE_CUDA(cudaEventSynchronize(cb->event));
    float ms = 0;
    SPINDLE_CUDA(cudaEventElapsedTime(&ms, ca->event, cb->event));
    return static_cast<double>(ms);
  }
  std::string timer_name() const override { return "cuda_events"; }
  std::shared_ptr<const Fence> fence() override {
    on_device();
    auto f = std::make_shared<CudaFence>();
    SPINDLE_CUDA(cudaEventRecord(f->event, stream()));
    return f;
  }
  void wait(const std::shared_ptr<const Fence>& f) override {
    if (!f) return;
    const auto* cf = dynamic_cast<const CudaFence*>(f.get());
    expect(cf != nullptr, "wait", "a fence of another backend");
    on_device();
    SPINDLE_CUDA(cudaStreamWaitEvent(stream(), cf->event, 0));
  }
  void synchronize() override {
    on_device();
    SPINDLE_CUDA(cudaStreamSynchronize(stream()));
  }
  // The calling thread's stream and this backend's device (cuda_streams.h).
  cudaStream_t stream() const { return lane().stream; }
  int device() const { return device_; }

  std::string name() const override { return "cuda"; }
  bool host_memory() const override { return false; }

  using Backend::alloc;
  Tensor alloc(const Dims& shape, DType dtype) override {
    std::int64_t n = 1;
    for (std::int64_t d : shape) {
      expect(d >= 0, "alloc", "negative dimension in " + dims_str(shape));
      n *= d;
    }
    const auto bytes = static_cast<std::size_t>(n > 0 ? n : 1) * static_cast<std::size_t>(dtype_bytes(dtype));
    on_device();
    return Tensor(shape, dtype, lane().cache->get(bytes, MemPartScope::current()));
  }
  // Both pools' counts added up; the peaks are each pool's own, so their sum bounds the
  // device's peak from above (the side pool holds the workspace and little else).
  MemoryUse memory_use() const override {
    MemoryUse total = compute_->cache->use();
    const MemoryUse u = side_->cache->use();
    for (size_t p = 0; p < static_cast<size_t>(kMemParts); ++p) {
      total.in_use[p] += u.in_use[p];
      total.peak[p] += u.peak[p];
      total.at_peak[p] += u.at_peak[p];
    }
    total.peak_total += u.peak_total;
    return total;
  }
  void reset_peak() override {
    compute_->cache->reset_peak();
    side_->cache->reset_peak();
  }
  void zero(Tensor& t) override {
    on_device();
    SPINDLE_CUDA(cudaMemsetAsync(t.data(), 0, static_cast<size_t>(t.bytes()), stream()));
  }

  void upload(Tensor& dst, std::span<const float> src) override {
    expect(dst.dtype() != DType::kI32 && static_cast<std::int64_t>(src.size()) == dst.numel(), "upload",
           "size or type mismatch for " + dims_str(dst.shape()));
    if (dst.dtype() == DType::kF32) {
      copy_in(dst.data(), src.data(), src.size() * 4);
      return;
    }
    std::vector<std::uint16_t> h(src.size());
    cpu::to_bf16(src.data(), h.data(), h.size());
    copy_in(dst.data(), h.data(), h.size() * 2);
  }
  void upload(Tensor& dst, std::span<const std::int32_t> src) override {
    expect(dst.dtype() == DType::kI32 && static_cast<std::int64_t>(src.size()) == dst.numel(), "upload",
           "size or type mismatch for " + dims_str(dst.shape()));
    copy_in(dst.data(), src.data(), src.size() * 4);
  }
  void download(const Tensor& src, std::span<float> dst) override {
    expect(static_cast<std::int64_t>(dst.size()) == src.numel() && src.dtype() != DType::kI32, "download",
           "size or type mismatch");
    if (src.dtype() == DType::kF32) {
      copy_out(dst.data(), src.data(), dst.size() * 4);
      return;
    }
    std::vector<std::uint16_t> h(dst.size());
    copy_out(h.data(), src.data(), h.size() * 2);
    cpu::from_bf16(h.data(), dst.data(), h.size());
  }

  void copy_tokens(const Tensor& src, std::int64_t src_first, Tensor& dst, std::int64_t dst_first, std::int64_t count,
                   bool accumulate) override {
    expect(src.rank() == 3 && dst.rank() == 3 && src.dim(0) == dst.dim(0) && src.dim(2) == dst.dim(2),
           "copy_tokens", dims_str(src.shape()) + " -> " + dims_str(dst.shape()));
    expect(src_first + count <= src.dim(1) && dst_first + count <= dst.dim(1), "copy_tokens", "token range");
    const std::int64_t d = src.dim(2);
    cuda::launch_copy_blocks(dev(src), src.dim(1) * d, src_first * d, dev(dst), dst.dim(1) * d, dst_first * d,
                             src.dim(0), count * d, accumulate, stream());
  }
  void repeat_batch(const Tensor& src, Tensor& dst) override {
    expect(src.numel() > 0 && dst.numel() % src.numel() == 0, "repeat_batch", "shape");
    cuda::launch_copy_blocks(dev(src), 0, 0, dev(dst), src.numel(), 0, dst.numel() / src.numel(), src.numel(), false,
                             stream());
  }
  void repeat_batch_backward(const Tensor& ddst, Tensor& dsrc) override {
    expect(dsrc.numel() > 0 && ddst.numel() % dsrc.numel() == 0, "repeat_batch_backward", "shape");
    cuda::launch_sum_blocks(dev(ddst), dev(dsrc), ddst.numel() / dsrc.numel(), dsrc.numel(), stream());
  }
  // Lists of up to cuda::kSumTensors tensors, two launches each (deterministic: no atomics),
  // into one scalar: one sync.
  double sum_squares(std::span<const Tensor> ts) override {
    on_device();
    SPINDLE_CUDA(cudaMemsetAsync(lane().scalar, 0, sizeof(double), stream()));
    cuda::SumList list;
    for (const Tensor& t : ts) {
      if (t.numel() == 0) continue;
      list.t[list.count] = dev(t);
      list.n[list.count] = t.numel();
      if (++list.count == cuda::kSumTensors) {
        cuda::launch_sum_squares_list(list, lane().scalar, lane().scalar + 1, stream());
        list.count = 0;
      }
    }
    cuda::launch_sum_squares_list(list, lane().scalar, lane().scalar + 1, stream());
    double s = 0;
    copy_out(&s, lane().scalar, sizeof s);
    return s;
  }
  void scale(Tensor& t, float factor) override { cuda::launch_scale(dev(t), t.numel(), factor, stream()); }

  // Row-major y [n, out] = x [n, in] w [out, in]^T + b, as cuBLASLt's column-major
  // y^T = w x^T: A = w^T seen column-major (in x out, transposed), B = x^T (in x n).
  // Mixed precision: on bf16 activations x the GEMMs take bf16 copies of the fp32 weights and
  // accumulate in fp32 (cuBLASLt, A/B bf16, C/D bf16 or fp32); a bias goes through an fp32
  // output (cuBLASLt's bias is of the output's type, and the CPU adds it in fp32), narrowed once.
  void linear_forward(const Tensor& x, const Tensor& w, const Tensor& b, Tensor& y) override {
    expect(w.rank() == 2 && x.dim(-1) == w.dim(1) && y.dim(-1) == w.dim(0) && x.rows() == y.rows(), "linear",
           dims_str(x.shape()) + " x " + dims_str(w.shape()) + " -> " + dims_str(y.shape()));
    const std::int64_t n = x.rows(), in = w.dim(1), out = w.dim(0);
    if (x.dtype() == DType::kBF16) {
      const Tensor W = bf16_copy(w), B = wide(b);
      Tensor Y = B.empty() ? y : wide(y, false);
      matmul(true, false, out, n, in, W.data(), in, x.data(), in, Y.data(), out, 0.0f, B.empty() ? nullptr : B.data(),
             1.0f, {CUDA_R_16BF, gemm_type(Y)});
      narrow(Y, y);
      return;
    }
    const Tensor X = wide(x), W = wide(w), B = wide(b);
    Tensor Y = wide(y, false);
    matmul(true, false, out, n, in, W.data(), in, X.data(), in, Y.data(), out, 0.0f, B.empty() ? nullptr : B.data());
    narrow(Y, y);
  }
  // dx [n, in] += dy [n, out] w [out, in]; dw [out, in] += dy^T x; db += column sums of dy. In
  // bf16 (fp32 accumulation) where x and dy are stored bf16; else in fp32, on the weights
  // rounded to bf16 where x is (as the CPU backend computes).
  void linear_backward(const Tensor& x, const Tensor& w, const Tensor& dy, Tensor& dx, Tensor& dw, Tensor& db) override {
    const std::int64_t n = x.rows(), in = w.dim(1), out = w.dim(0);
    if (x.dtype() == DType::kBF16 && dy.dtype() == DType::kBF16 && (dw.empty() || dw.dtype() == DType::kF32)) {
      if (!dx.empty()) {
        const Tensor W = bf16_copy(w);
        matmul(false, false, in, n, out, W.data(), in, dy.data(), out, dx.data(), in, 1.0f, nullptr, 1.0f,
               {CUDA_R_16BF, gemm_type(dx)});
      }
      if (!dw.empty())
        matmul(false, true, in, out, n, x.data(), in, dy.data(), out, dw.data(), in, 1.0f, nullptr, 1.0f,
               {CUDA_R_16BF, CUDA_R_32F});
    } else {
      const Tensor X = wide(x), W = x.dtype() == DType::kBF16 ? rounded(w) : wide(w), DY = wide(dy);
      Tensor DX = wide(dx), DW = wide(dw);
      if (!dx.empty()) matmul(false, false, in, n, out, W.data(), in, DY.data(), out, DX.data(), in, 1.0f, nullptr);
      if (!dw.empty()) matmul(false, true, in, out, n, X.data(), in, DY.data(), out, DW.data(), in, 1.0f, nullptr);
      narrow(DX, dx);
      narrow(DW, dw);
    }
    if (!db.empty()) cuda::launch_sum_blocks(dev(dy), dev(db), n, out, stream());
  }

  void residual_forward(const Tensor& a, const Tensor& b, Tensor& y) override {
    expect(a.numel() == b.numel() && a.numel() == y.numel(), "residual", dims_str(a.shape()));
    cuda::launch_add(dev(a), dev(b), dev(y), a.numel(), stream());
  }
  void residual_backward(const Tensor& dy, Tensor& da, Tensor& db) override {
    for (Tensor* d : {&da, &db})
      if (!d->empty()) cuda::launch_copy_blocks(dev(dy), 0, 0, dev(*d), 0, 0, 1, dy.numel(), true, stream());
  }

  using Backend::adamw_step;
  // Lists of up to cuda::kAdamWTensors slices, a launch each.
  void adamw_step(std::span<const AdamWSlice> slices, const AdamWParams& p, std::int64_t step) override {
    const auto c1 = static_cast<float>(1.0 - std::pow(static_cast<double>(p.beta1), static_cast<double>(step)));
    const auto c2 = static_cast<float>(1.0 - std::pow(static_cast<double>(p.beta2), static_cast<double>(step)));
    for (const AdamWSlice& s : slices) {  // all checked before any is updated
      const std::int64_t n = s.w.numel();
      expect(n == s.grad.numel() && n == s.m.numel() && n == s.v.numel(), "adamw", dims_str(s.w.shape()));
      fp32_only("adamw", {&s.w, &s.m, &s.v});
    }
    cuda::AdamWList list;
    auto flush = [&] {
      cuda::launch_adamw_list(list, p.lr, p.beta1, p.beta2, p.eps, p.grad_scale, c1, c2, stream());
      list.count = 0;
    };
    for (const AdamWSlice& s : slices) {
      const std::int64_t n = s.w.numel();
      if (n == 0) continue;
      const int k = list.count++;
      list.w[k] = s.w.f32();
      list.g[k] = dev(s.grad);
      list.m[k] = s.m.f32();
      list.v[k] = s.v.f32();
      list.weight_decay[k] = s.weight_decay;
      list.n[k] = n;
      if (list.count == cuda::kAdamWTensors) flush();
    }
    flush();
  }

  void layer_norm_forward(const Tensor& x, const Tensor& g, const Tensor& b, Tensor& y, Tensor& mean,
                          Tensor& rstd) override {
    expect(g.numel() == x.dim(-1) && mean.numel() == x.rows() && y.numel() == x.numel(), "layer_norm",
           dims_str(x.shape()));
    fp32_only("layer_norm statistics", {&mean, &rstd});
    cuda::launch_layer_norm(dev(x), dev(g), dev(b), dev(y), mean.f32(), rstd.f32(), x.rows(), x.dim(-1), stream());
  }
  void layer_norm_backward(const Tensor& x, const Tensor& g, const Tensor& mean, const Tensor& rstd, const Tensor& dy,
                           Tensor& dx, Tensor& dg, Tensor& db) override {
    fp32_only("layer_norm statistics", {&mean, &rstd});
    cuda::launch_layer_norm_backward(dev(x), dev(g), mean.f32(), rstd.f32(), dev(dy), dev(dx), dev(dg), dev(db),
                                     x.rows(), x.dim(-1), stream());
  }

  // Per (batch, head), as the CPU kernel, one head's [Sq, Sk] block at a time (memory-lean:
  // the probabilities never exist for all heads): S = Q K^T / sqrt(hd), the row softmax with
  // the causal mask keeping each row's log-sum-exp in `stats`, out = P V; the head's Q, K, V
  // are column slices of [B, S, W] (ld = W). (cuDNN's fused attention would keep the same stats.)
  void attention_forward(const Tensor& q, const Tensor& k, const Tensor& v, int heads, bool causal, Tensor& out,
                         Tensor& stats) override {
    const Att a = att(q, k, stats, heads);
    expect(!causal || a.sk >= a.sq, "attention", "causal attention with fewer keys than queries");
    const Tensor Q = wide(q), K = wide(k), V = wide(v);
    Tensor O = wide(out, false);
    Tensor P = alloc({a.sq, a.sk}, DType::kF32);
    for (std::int64_t b = 0; b < a.batch; ++b)
      for (std::int64_t h = 0; h < heads; ++h) {
        head_probs(Q, K, a, b, h, causal, P, nullptr, stats.f32() + (b * heads + h) * a.sq);
        matmul(false, false, a.hd, a.sq, a.sk, V.f32() + a.k_at(b, h), a.w, P.f32(), a.sk, O.f32() + a.q_at(b, h), a.w,
               0.0f, nullptr);
      }
    narrow(O, out);
  }
  // P recomputed from stats, dP = dout V^T, dV += P^T dout, dS = P (dP - rowsum(P dP)) / sqrt(hd),
  // dQ += dS K, dK += dS^T Q.
  void attention_backward(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& stats, int heads,
                          bool causal, const Tensor& dout, Tensor& dq, Tensor& dk, Tensor& dv) override {
    const Att a = att(q, k, stats, heads);
    const float scale = 1.0f / std::sqrt(static_cast<float>(a.hd));
    const Tensor Q = wide(q), K = wide(k), V = wide(v), DO = wide(dout);
    // dq and dk may be one tensor (the CPU backend allows it): one fp32 copy for both then.
    const bool same = dq.data() == dk.data() && dq.numel() == dk.numel();
    Tensor DQ = wide(dq), DK = same ? DQ : wide(dk), DV = wide(dv);
    Tensor P = alloc({a.sq, a.sk}, DType::kF32), ds = alloc({a.sq, a.sk}, DType::kF32);
    for (std::int64_t b = 0; b < a.batch; ++b)
      for (std::int64_t h = 0; h < heads; ++h) {
        head_probs(Q, K, a, b, h, causal, P, stats.f32() + (b * heads + h) * a.sq, nullptr);
        matmul(true, false, a.sk, a.sq, a.hd, V.f32() + a.k_at(b, h), a.w, DO.f32() + a.q_at(b, h), a.w, ds.f32(),
               a.sk, 0.0f, nullptr);
        matmul(false, true, a.hd, a.sk, a.sq, DO.f32() + a.q_at(b, h), a.w, P.f32(), a.sk, DV.f32() + a.k_at(b, h),
               a.w, 1.0f, nullptr);
        cuda::launch_softmax_backward_rows(P.f32(), ds.f32(), a.sq, a.sk, scale, stream());
        matmul(false, false, a.hd, a.sq, a.sk, K.f32() + a.k_at(b, h), a.w, ds.f32(), a.sk, DQ.f32() + a.q_at(b, h),
               a.w, 1.0f, nullptr);
        matmul(false, true, a.hd, a.sk, a.sq, Q.f32() + a.q_at(b, h), a.w, ds.f32(), a.sk, DK.f32() + a.k_at(b, h),
               a.w, 1.0f, nullptr);
      }
    narrow(DQ, dq);
    if (!same) narrow(DK, dk);
    narrow(DV, dv);
  }
  void gelu_mlp_forward(const Tensor& x, const Tensor& w1, const Tensor& b1, const Tensor& w2, const Tensor& b2,
                        Tensor& pre, Tensor& act, Tensor& y) override {
    expect(w1.dim(1) == x.dim(-1) && w2.dim(0) == x.dim(-1) && pre.numel() == x.rows() * w1.dim(0), "gelu_mlp",
           dims_str(x.shape()));
    Tensor pre2 = pre.reshaped({x.rows(), w1.dim(0)}), act2 = act.reshaped({x.rows(), w1.dim(0)});
    linear_forward(x, w1, b1, pre2);
    cuda::launch_gelu(dev(pre), dev(act), pre.numel(), stream());
    linear_forward(act2, w2, b2, y);
  }
  void gelu_mlp_backward(const Tensor& x, const Tensor& w1, const Tensor& w2, const Tensor& pre, const Tensor& act,
                         const Tensor& dy, Tensor& dx, Tensor& dw1, Tensor& db1, Tensor& dw2, Tensor& db2) override {
    const Tensor act2 = act.reshaped({x.rows(), w1.dim(0)});
    Tensor dact = alloc({x.rows(), w1.dim(0)}, DType::kF32);
    linear_backward(act2, w2, dy, dact, dw2, db2);
    cuda::launch_gelu_backward(dev(pre), dev(dact), dact.numel(), stream());  // dact becomes d pre
    linear_backward(x, w1, dact, dx, dw1, db1);
  }
  void swiglu_mlp_forward(const Tensor& x, const Tensor& wg, const Tensor& wu, const Tensor& wd, Tensor& gate,
                          Tensor& up, Tensor& act, Tensor& y) override {
    expect(wg.dim(1) == x.dim(-1) && wd.dim(0) == x.dim(-1) && gate.numel() == x.rows() * wg.dim(0), "swiglu_mlp",
           dims_str(x.shape()));
    const Dims nf{x.rows(), wg.dim(0)};
    Tensor g2 = gate.reshaped(nf), u2 = up.reshaped(nf), a2 = act.reshaped(nf), none;
    linear_forward(x, wg, none, g2);
    linear_forward(x, wu, none, u2);
    cuda::launch_swiglu(dev(gate), dev(up), dev(act), act.numel(), stream());
    linear_forward(a2, wd, none, y);
  }
  void swiglu_mlp_backward(const Tensor& x, const Tensor& wg, const Tensor& wu, const Tensor& wd, const Tensor& gate,
                           const Tensor& up, const Tensor& act, const Tensor& dy, Tensor& dx, Tensor& dwg, Tensor& dwu,
                           Tensor& dwd) override {
    const Dims nf{x.rows(), wg.dim(0)};
    Tensor dact = alloc(nf, DType::kF32), dgate = alloc(nf, DType::kF32), dup = alloc(nf, DType::kF32), none;
    linear_backward(act.reshaped(nf), wd, dy, dact, dwd, none);
    cuda::launch_swiglu_backward(dev(gate), dev(up), dev(dact), dev(dgate), dev(dup), dact.numel(), stream());
    linear_backward(x, wg, dgate, dx, dwg, none);
    linear_backward(x, wu, dup, dx, dwu, none);
  }

  void mean_pool_forward(const Tensor& x, Tensor& y) override {
    expect(x.rank() == 3 && y.rank() == 3 && x.dim(0) == y.dim(0) && x.dim(2) == y.dim(2) && y.dim(1) >= 1 &&
               y.dim(1) <= x.dim(1),
           "mean_pool", dims_str(x.shape()) + " -> " + dims_str(y.shape()));
    cuda::launch_mean_pool(dev(x), dev(y), x.dim(0), x.dim(1), y.dim(1), x.dim(2), false, stream());
  }
  void mean_pool_backward(const Tensor& dy, Tensor& dx) override {
    cuda::launch_mean_pool(dev(dy), dev(dx), dx.dim(0), dx.dim(1), dy.dim(1), dx.dim(2), true, stream());
  }

  void patch_embed_forward(const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& pos, Tensor& y) override {
    expect(x.rank() == 3 && w.dim(1) == x.dim(2) && pos.dim(0) >= x.dim(1) && y.dim(2) == w.dim(0), "patch_embed",
           dims_str(x.shape()) + " with pos " + dims_str(pos.shape()));
    linear_forward(x, w, b, y);
    const std::int64_t per_sample = x.dim(1) * w.dim(0);  // the first tokens' positions, added to every sample
    cuda::launch_copy_blocks(dev(pos), 0, 0, dev(y), per_sample, 0, x.dim(0), per_sample, true, stream());
  }
  void patch_embed_backward(const Tensor& x, const Tensor& dy, Tensor& dw, Tensor& db, Tensor& dpos) override {
    fp32_only("patch_embed backward", {&dw});
    const std::int64_t n = x.rows(), in = dw.dim(1), out = dw.dim(0);  // raw inputs need no gradient
    if (x.dtype() == DType::kBF16 && dy.dtype() == DType::kBF16) {
      matmul(false, true, in, out, n, x.data(), in, dy.data(), out, dw.data(), in, 1.0f, nullptr, 1.0f,
             {CUDA_R_16BF, CUDA_R_32F});
    } else {
      const Tensor X = wide(x), DY = wide(dy);
      matmul(false, true, in, out, n, X.data(), in, DY.data(), out, dw.data(), in, 1.0f, nullptr);
    }
    if (!db.empty()) cuda::launch_sum_blocks(dev(dy), dev(db), n, out, stream());
    const std::int64_t per_sample = dy.dim(1) * dy.dim(2);
    Tensor dpos_used = dpos.flat_view(0, per_sample);
    cuda::launch_sum_blocks(dev(dy), dev(dpos_used), dy.dim(0), per_sample, stream());
  }

  void token_embed_forward(const Tensor& ids, const Tensor& table, Tensor& y) override {
    expect(ids.dtype() == DType::kI32 && ids.rank() == 2 && y.dim(2) == table.dim(1), "token_embed",
           dims_str(ids.shape()));
    check_ids(ids, table.dim(0));
    cuda::launch_token_embed(ids.i32(), dev(table), dev(y), ids.numel(), table.dim(1), stream());
  }
  void token_embed_backward(const Tensor& ids, const Tensor& dy, Tensor& dtable) override {
    fp32_only("token_embed backward", {&dtable});
    cuda::launch_token_embed_backward(ids.i32(), dev(dy), dtable.f32(), ids.numel(), dtable.dim(1), stream());
  }

  // InfoNCE over a batch of B embeddings on each side is a B x B problem (B at most a few
  // thousand): it runs on the host, with the CPU kernel, on downloaded embeddings.
  void contrastive_loss_forward(const Tensor& a, const Tensor& b, float inv_temperature, std::int64_t first,
                                std::int64_t last, Tensor& loss) override {
    expect(a.numel() == b.numel() && loss.numel() == 1 && 0 <= first && first <= last && last <= a.rows(),
           "contrastive_loss", dims_str(a.shape()));
    std::vector<float> ha(static_cast<size_t>(a.numel())), hb(ha.size());
    download(a, ha);
    download(b, hb);
    const float l = cpu::contrastive_loss_share(ha.data(), hb.data(), a.rows(), a.dim(-1), inv_temperature, first, last);
    upload(loss, std::span<const float>(&l, 1));
  }
  void contrastive_loss_backward(const Tensor& a, const Tensor& b, float inv_temperature, std::int64_t first,
                                 std::int64_t last, float dloss, Tensor& da, Tensor& db) override {
    std::vector<float> ha(static_cast<size_t>(a.numel())), hb(ha.size()), ga(ha.size(), 0.0f), gb(ha.size(), 0.0f);
    download(a, ha);
    download(b, hb);
    cpu::contrastive_loss_share_backward(ha.data(), hb.data(), dloss, ga.data(), gb.data(), a.rows(), a.dim(-1),
                                         inv_temperature, first, last);
    for (auto [grad, host] : {std::pair<Tensor*, std::vector<float>*>{&da, &ga}, {&db, &gb}}) {
      Tensor t = alloc(grad->shape(), DType::kF32);
      upload(t, *host);
      cuda::launch_copy_blocks(dev(t), 0, 0, dev(*grad), 0, 0, 1, t.numel(), true, stream());
    }
  }

  // A block of rows at a time (cpu::lm_head_block_rows, as the CPU kernel): logits through the
  // GEMM into one block-sized buffer, then each row's log-sum-exp (kept in `stats`) and loss;
  // the loss is the mean of the rows' losses, added on the host in row order.
  void lm_head_loss_forward(const Tensor& x, const Tensor& table, const Tensor& labels, Tensor& stats,
                            Tensor& loss) override {
    const std::int64_t n = x.rows(), hidden = x.dim(-1), vocab = table.dim(0);
    expect(hidden == table.dim(1) && labels.numel() == n && stats.numel() == n && stats.dtype() == DType::kF32,
           "lm_head_loss", dims_str(x.shape()) + " with table " + dims_str(table.shape()) + ", stats " +
                               dims_str(stats.shape()) + " (fp32 [n])");
    check_ids(labels, vocab);
    const std::int64_t block = cpu::lm_head_block_rows(vocab);
    Tensor logits = alloc({std::min(n, block), vocab}, DType::kF32), rows = alloc({n}, DType::kF32);
    const Tensor X = x.reshaped({n, hidden});
    for (std::int64_t first = 0; first < n; first += block) {
      const std::int64_t r = std::min(block, n - first);
      Tensor lb = logits.flat_view(0, r * vocab).reshaped({r, vocab});
      linear_forward(X.rows_view(first, first + r), table, Tensor(), lb);
      cuda::launch_cross_entropy_rows(lb.f32(), labels.i32() + first, stats.f32() + first, rows.f32() + first, r,
                                      vocab, stream());
    }
    std::vector<float> h(static_cast<size_t>(n));
    download(rows, h);
    double sum = 0;
    for (float v : h) sum += v;
    const auto l = static_cast<float>(sum / static_cast<double>(n));
    upload(loss, std::span<const float>(&l, 1));
  }
  void lm_head_loss_backward(const Tensor& x, const Tensor& table, const Tensor& labels, const Tensor& stats,
                             float dloss, Tensor& dx, Tensor& dtable) override {
    const std::int64_t n = x.rows(), hidden = x.dim(-1), vocab = table.dim(0);
    expect(stats.numel() == n && stats.dtype() == DType::kF32, "lm_head_loss",
           "stats " + dims_str(stats.shape()) + " (fp32 [n])");
    const std::int64_t block = cpu::lm_head_block_rows(vocab);
    Tensor d = alloc({std::min(n, block), vocab}, DType::kF32), none;
    const Tensor X = x.reshaped({n, hidden});
    Tensor DX = dx.empty() ? Tensor() : dx.reshaped({n, hidden});
    for (std::int64_t first = 0; first < n; first += block) {
      const std::int64_t r = std::min(block, n - first);
      const Tensor xb = X.rows_view(first, first + r);
      Tensor db = d.flat_view(0, r * vocab).reshaped({r, vocab});
      linear_forward(xb, table, Tensor(), db);  // the block's logits again, turned into their gradient in place
      cuda::launch_cross_entropy_backward(db.f32(), stats.f32() + first, labels.i32() + first, db.f32(), r, vocab,
                                          dloss / static_cast<float>(n), stream());
      Tensor dxb = DX.empty() ? Tensor() : DX.rows_view(first, first + r);
      linear_backward(xb, table, db, dxb, dtable, none);
    }
  }

 private:
  // A [B, S, W] tensor's head slices: the offset of head h of sample b in q (or k, v).
  struct Att {
    std::int64_t batch, sq, sk, w, hd;
    std::int64_t q_at(std::int64_t b, std::int64_t h) const { return b * sq * w + h * hd; }
    std::int64_t k_at(std::int64_t b, std::int64_t h) const { return b * sk * w + h * hd; }
  };
  static Att att(const Tensor& q, const Tensor& k, const Tensor& stats, int heads) {
    expect(q.rank() == 3 && k.rank() == 3 && q.dim(0) == k.dim(0) && q.dim(2) == k.dim(2) && heads > 0 &&
               q.dim(2) % heads == 0,
           "attention", dims_str(q.shape()) + " vs " + dims_str(k.shape()));
    expect(stats.numel() == q.dim(0) * heads * q.dim(1) && stats.dtype() == DType::kF32, "attention",
           "stats " + dims_str(stats.shape()) + " (fp32 [B, heads, Sq])");
    return Att{q.dim(0), q.dim(1), k.dim(1), q.dim(2), q.dim(2) / heads};
  }
  // Head h of sample b's probabilities into P [Sq, Sk]: S = Q K^T / sqrt(hd), then the row
  // softmax (log-sum-exps from lse_in, or computed and written to lse_out).
  void head_probs(const Tensor& Q, const Tensor& K, const Att& a, std::int64_t b, std::int64_t h, bool causal,
                  Tensor& P, const float* lse_in, float* lse_out) {
    const float scale = 1.0f / std::sqrt(static_cast<float>(a.hd));
    matmul(true, false, a.sk, a.sq, a.hd, K.f32() + a.k_at(b, h), a.w, Q.f32() + a.q_at(b, h), a.w, P.f32(), a.sk,
           0.0f, nullptr, scale);
    cuda::launch_softmax_rows(P.f32(), a.sq, a.sk, causal, a.sq, lse_in, lse_out, stream());
  }
  // Token ids and labels checked on the host before a kernel indexes with them (as the CPU's).
  void check_ids(const Tensor& ids, std::int64_t vocab) {
    std::vector<std::int32_t> h(static_cast<size_t>(ids.numel()));
    copy_out(h.data(), ids.data(), h.size() * 4);
    for (std::int32_t id : h)
      if (id < 0 || id >= vocab)
        throw InternalError("token id " + std::to_string(id) + " outside the vocabulary of " + std::to_string(vocab));
  }

  static constexpr std::size_t kWorkspaceBytes = std::size_t{32} << 20;  // cuBLASLt's, as PyTorch gives it on Hopper
  std::mutex algo_mu_;  // logical devices' threads share the backend
  std::map<cuda::GemmShape, cublasLtMatmulAlgo_t> algo_of_;

  // The calling thread's current device set to this backend's (a rank's sync thread calls in
  // too; kernels launched on a stream of another device than the current one fail).
  void on_device() const {
    thread_local int bound = -1;
    thread_local const CudaBackend* bound_by = nullptr;
    if (bound == device_ && bound_by == this) return;
    SPINDLE_CUDA(cudaSetDevice(device_));
    bound = device_;
    bound_by = this;
  }
  // A kernel's view of a tensor, on this backend's device.
  DevPtr dev(const Tensor& t) const {
    on_device();
    return dev_ptr(t);
  }

  void copy_in(void* dst, const void* src, std::size_t bytes) {
    on_device();
    SPINDLE_CUDA(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, stream()));
    SPINDLE_CUDA(cudaStreamSynchronize(stream()));  // the host buffer may go once this returns
  }
  void copy_out(void* dst, const void* src, std::size_t bytes) {
    on_device();
    SPINDLE_CUDA(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, stream()));
    SPINDLE_CUDA(cudaStreamSynchronize(stream()));
  }

  // Tensors the backend keeps in fp32 whatever the storage (statistics, weights' gradients).
  static void fp32_only(const char* kernel, std::initializer_list<const Tensor*> ts) {
    for (const Tensor* t : ts)
      if (!t->empty() && t->dtype() != DType::kF32)
        throw InternalError(std::string("the CUDA backend's ") + kernel + " takes fp32 tensors here");
  }
  // The fp32 GEMM paths (attention, the LM head, mixed operands): a bf16 tensor goes through an
  // fp32 copy, widened when `read`, and narrow() writes a written copy back.
  Tensor wide(const Tensor& t, bool read = true) {
    if (t.empty() || t.dtype() != DType::kBF16) return t;
    Tensor f = alloc(t.shape(), DType::kF32);
    if (read) cuda::launch_copy_blocks(dev(t), 0, 0, dev(f), 0, 0, 1, t.numel(), false, stream());
    return f;
  }
  // A bf16 copy of an fp32 tensor (a GEMM operand), or the tensor itself when it is bf16.
  Tensor bf16_copy(const Tensor& t) {
    if (t.empty() || t.dtype() == DType::kBF16) return t;
    Tensor h = alloc(t.shape(), DType::kBF16);
    cuda::launch_copy_blocks(dev(t), 0, 0, dev(h), 0, 0, 1, t.numel(), false, stream());
    return h;
  }
  // fp32 values rounded to bf16 (the weights of an fp32 GEMM in a bf16 kernel call).
  Tensor rounded(const Tensor& t) { return wide(bf16_copy(t)); }
  static cudaDataType gemm_type(const Tensor& t) { return t.dtype() == DType::kBF16 ? CUDA_R_16BF : CUDA_R_32F; }
  void narrow(const Tensor& wide_copy, Tensor& t) {
    if (t.empty() || wide_copy.data() == t.data()) return;
    cuda::launch_copy_blocks(dev(wide_copy), 0, 0, dev(t), 0, 0, 1, t.numel(), false, stream());
  }

  // Column-major C [m, n] = op(A) op(B) (+ beta C) (+ bias [m] per column, fp32, with an fp32 C),
  // accumulated in fp32, through cuBLASLt with its heuristic's first algorithm (cuda/gemm.h);
  // op(A) is A^T when ta (A stored k x m), else A (m x k).
  void matmul(bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k, const void* a, std::int64_t lda,
              const void* b, std::int64_t ldb, void* c, std::int64_t ldc, float beta, const void* bias,
              float alpha = 1.0f, GemmTypes types = GemmTypes()) {
    if (m == 0 || n == 0) return;
    on_device();
    cuda::GemmShape shape{ta,       tb,   m, n, k, lda, ldb, ldc, types.ab, types.cd, bias != nullptr,
                          cuda::alignment_of(a), cuda::alignment_of(b), cuda::alignment_of(c),
                          bias != nullptr ? cuda::alignment_of(bias) : 0u};
    cuda::gemm_log_add(shape);
    const cuda::Gemm gemm(lt_, shape, bias, kWorkspaceBytes);
    // The heuristic's choice per shape, asked once (a query costs the host microseconds per GEMM).
    cublasLtMatmulAlgo_t algo;
    {
      const std::lock_guard<std::mutex> lock(algo_mu_);
      auto it = algo_of_.find(shape);
      if (it == algo_of_.end()) {
        const std::vector<cublasLtMatmulHeuristicResult_t> algos = gemm.algorithms(1);
        if (algos.empty()) throw cuda::CudaError("cuBLASLt has no algorithm for the GEMM " + shape.str());
        it = algo_of_.emplace(shape, algos.front().algo).first;
      }
      algo = it->second;
    }
    gemm.run(algo, a, b, c, alpha, beta, lane().workspace.get(), stream());
  }

  // A stream and what must not be shared across streams: its memory pool (a block freed on
  // one stream is reused in that stream's order only), cuBLASLt's workspace and the scalar
  // sum_squares reduces into (with its per-block partials, cuda::kSumPartials doubles).
  struct Lane {
    Lane() {
      SPINDLE_CUDA(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
      try {
        cache = cuda::DeviceCache::make(stream);
        workspace = cache->get(kWorkspaceBytes, MemPart::kBuffers);
        SPINDLE_CUDA(cudaMalloc(&scalar, sizeof(double) * (1 + cuda::kSumPartials)));  // and the norm's partials
      } catch (...) {
        release();
        throw;
      }
    }
    ~Lane() { release(); }
    void release() {
      if (stream) cudaStreamSynchronize(stream);
      if (scalar) cudaFree(scalar);
      workspace.reset();
      cache.reset();
      if (stream) cudaStreamDestroy(stream);
      scalar = nullptr;
      stream = nullptr;
    }
    Lane(const Lane&) = delete;
    Lane& operator=(const Lane&) = delete;
    cudaStream_t stream = nullptr;
    std::shared_ptr<cuda::DeviceCache> cache;
    std::shared_ptr<void> workspace;
    double* scalar = nullptr;
  };
  struct CudaMark final : TimeMark {
    CudaMark() { SPINDLE_CUDA(cudaEventCreate(&event)); }  // with timing
    ~CudaMark() override { cudaEventDestroy(event); }
    cudaEvent_t event = nullptr;
  };
  struct CudaFence final : Fence {
    CudaFence() { SPINDLE_CUDA(cudaEventCreateWithFlags(&event, cudaEventDisableTiming)); }
    ~CudaFence() override { cudaEventDestroy(event); }
    cudaEvent_t event = nullptr;
  };
  // The calling thread's lane: the side one after use_side_stream() on this backend, else
  // compute. (Backends are told apart by a serial number: a later one may reuse a freed
  // one's address.)
  Lane& lane() const { return tl_side_of == serial_ ? *side_ : *compute_; }

  int device_ = 0;
  cublasLtHandle_t lt_ = nullptr;
  std::unique_ptr<Lane> compute_, side_;
  const std::uint64_t serial_ = next_serial_.fetch_add(1) + 1;
  static inline std::atomic<std::uint64_t> next_serial_{0};
  static thread_local std::uint64_t tl_side_of;  // the backend whose side stream this thread uses
};

thread_local std::uint64_t CudaBackend::tl_side_of = 0;

}  // namespace

std::unique_ptr<Backend> make_cuda_backend() { return std::make_unique<CudaBackend>(); }

namespace cuda {

cudaStream_t calling_stream(Backend& be) {
  auto* cb = dynamic_cast<CudaBackend*>(&be);
  if (cb == nullptr) throw InternalError("a CUDA stream asked of the " + be.name() + " backend");
  return cb->stream();
}

int local_rank() {
  for (const char* var : {"OMPI_COMM_WORLD_LOCAL_RANK", "SLURM_LOCALID", "MPI_LOCALRANKID", "LOCAL_RANK"})
    if (const char* v = std::getenv(var)) return std::max(0, std::atoi(v));
  return 0;
}

int device_of(Backend& be) {
  auto* cb = dynamic_cast<CudaBackend*>(&be);
  if (cb == nullptr) throw InternalError("a CUDA device asked of the " + be.name() + " backend");
  return cb->device();
}

}  // namespace cuda

}  // namespace spindle::engine
