// The CUDA backend (see cuda_backend.h): device memory from a caching allocator
// (device_cache.h), every call queued on one compute stream, GEMMs through cuBLASLt (fp32, bias
// epilogue), element-wise kernels in elementwise.cu. Host transfers synchronise the stream.
// Kernels it does not have yet throw InternalError naming them (issue 22 lists them); the
// backend-ops test (tests/engine/backend_ops_test.cpp) compares what it has with the CPU.
#include "engine/cuda/cuda_backend.h"

#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

#include "engine/cpu/bf16.h"
#include "engine/cuda/cuda_check.h"
#include "engine/cuda/device_cache.h"
#include "engine/cuda/elementwise.h"

namespace spindle::engine {
namespace {

using cuda::DevPtr;

void expect(bool ok, const char* kernel, const std::string& what) {
  if (!ok) throw InternalError(std::string("cuda ") + kernel + ": " + what);
}

DevPtr dev(const Tensor& t) {
  expect(t.dtype() != DType::kI32 || t.empty(), "kernel", "an int32 tensor where floats go");
  return DevPtr{t.data(), t.dtype() == DType::kBF16};
}

[[noreturn]] void missing(const char* kernel) {
  throw InternalError(std::string("the CUDA backend has no ") + kernel + " kernel yet (issue 22); allowed: --backend cpu");
}

// The device this process uses: its local rank's under mpirun or srun (one process per GPU),
// else device 0.
int local_device(int devices) {
  for (const char* var : {"OMPI_COMM_WORLD_LOCAL_RANK", "SLURM_LOCALID", "MPI_LOCALRANKID", "LOCAL_RANK"})
    if (const char* v = std::getenv(var)) return std::atoi(v) % devices;
  return 0;
}

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
    SPINDLE_CUDA(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    SPINDLE_CUBLAS(cublasLtCreate(&lt_));
    cache_ = cuda::DeviceCache::make(stream_);
    workspace_ = cache_->get(kWorkspaceBytes, MemPart::kBuffers);
    SPINDLE_CUDA(cudaMalloc(&scalar_, sizeof(double)));
  }
  ~CudaBackend() override {
    cudaStreamSynchronize(stream_);
    cudaFree(scalar_);
    workspace_.reset();
    cache_.reset();
    cublasLtDestroy(lt_);
    cudaStreamDestroy(stream_);
  }

  std::string name() const override { return "cuda"; }

  using Backend::alloc;
  Tensor alloc(const Dims& shape, DType dtype) override {
    std::int64_t n = 1;
    for (std::int64_t d : shape) {
      expect(d >= 0, "alloc", "negative dimension in " + dims_str(shape));
      n *= d;
    }
    const auto bytes = static_cast<std::size_t>(n > 0 ? n : 1) * static_cast<std::size_t>(dtype_bytes(dtype));
    return Tensor(shape, dtype, cache_->get(bytes, MemPartScope::current()));
  }
  MemoryUse memory_use() const override { return cache_->use(); }
  void reset_peak() override { cache_->reset_peak(); }
  void zero(Tensor& t) override { SPINDLE_CUDA(cudaMemsetAsync(t.data(), 0, static_cast<size_t>(t.bytes()), stream_)); }

  void upload(Tensor& dst, std::span<const float> src) override {
    expect(dst.dtype() != DType::kI32 && static_cast<std::int64_t>(src.size()) == dst.numel(), "upload",
           "size or type mismatch for " + dims_str(dst.shape()));
    if (dst.dtype() == DType::kF32) {
      copy_in(dst.data(), src.data(), src.size() * 4);
      return;
    }
    std::vector<std::uint16_t> h(src.size());
    for (size_t i = 0; i < h.size(); ++i) h[i] = cpu::to_bf16(src[i]);
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
    for (size_t i = 0; i < h.size(); ++i) dst[i] = cpu::from_bf16(h[i]);
  }

  void copy_tokens(const Tensor& src, std::int64_t src_first, Tensor& dst, std::int64_t dst_first, std::int64_t count,
                   bool accumulate) override {
    expect(src.rank() == 3 && dst.rank() == 3 && src.dim(0) == dst.dim(0) && src.dim(2) == dst.dim(2),
           "copy_tokens", dims_str(src.shape()) + " -> " + dims_str(dst.shape()));
    expect(src_first + count <= src.dim(1) && dst_first + count <= dst.dim(1), "copy_tokens", "token range");
    const std::int64_t d = src.dim(2);
    cuda::launch_copy_blocks(dev(src), src.dim(1) * d, src_first * d, dev(dst), dst.dim(1) * d, dst_first * d,
                             src.dim(0), count * d, accumulate, stream_);
  }
  void repeat_batch(const Tensor& src, Tensor& dst) override {
    expect(src.numel() > 0 && dst.numel() % src.numel() == 0, "repeat_batch", "shape");
    cuda::launch_copy_blocks(dev(src), 0, 0, dev(dst), src.numel(), 0, dst.numel() / src.numel(), src.numel(), false,
                             stream_);
  }
  void repeat_batch_backward(const Tensor& ddst, Tensor& dsrc) override {
    expect(dsrc.numel() > 0 && ddst.numel() % dsrc.numel() == 0, "repeat_batch_backward", "shape");
    cuda::launch_sum_blocks(dev(ddst), dev(dsrc), ddst.numel() / dsrc.numel(), dsrc.numel(), stream_);
  }
  double sum_squares(const Tensor& t) override {
    SPINDLE_CUDA(cudaMemsetAsync(scalar_, 0, sizeof(double), stream_));
    cuda::launch_sum_squares(dev(t), t.numel(), scalar_, stream_);
    double s = 0;
    copy_out(&s, scalar_, sizeof s);
    return s;
  }
  void scale(Tensor& t, float factor) override { cuda::launch_scale(dev(t), t.numel(), factor, stream_); }

  // Row-major y [n, out] = x [n, in] w [out, in]^T + b, as cuBLASLt's column-major
  // y^T = w x^T: A = w^T seen column-major (in x out, transposed), B = x^T (in x n).
  void linear_forward(const Tensor& x, const Tensor& w, const Tensor& b, Tensor& y) override {
    expect(w.rank() == 2 && x.dim(-1) == w.dim(1) && y.dim(-1) == w.dim(0) && x.rows() == y.rows(), "linear",
           dims_str(x.shape()) + " x " + dims_str(w.shape()) + " -> " + dims_str(y.shape()));
    fp32_only("linear", {&x, &w, &b, &y});
    const std::int64_t n = x.rows(), in = w.dim(1), out = w.dim(0);
    matmul(true, false, out, n, in, w.data(), in, x.data(), in, y.data(), out, 0.0f, b.empty() ? nullptr : b.data());
  }
  // dx [n, in] += dy [n, out] w [out, in]; dw [out, in] += dy^T x; db += column sums of dy.
  void linear_backward(const Tensor& x, const Tensor& w, const Tensor& dy, Tensor& dx, Tensor& dw, Tensor& db) override {
    fp32_only("linear_backward", {&x, &w, &dy, &dx, &dw, &db});
    const std::int64_t n = x.rows(), in = w.dim(1), out = w.dim(0);
    if (!dx.empty()) matmul(false, false, in, n, out, w.data(), in, dy.data(), out, dx.data(), in, 1.0f, nullptr);
    if (!dw.empty()) matmul(false, true, in, out, n, x.data(), in, dy.data(), out, dw.data(), in, 1.0f, nullptr);
    if (!db.empty()) cuda::launch_column_sums(dev(dy), dev(db), n, out, stream_);
  }

  void residual_forward(const Tensor& a, const Tensor& b, Tensor& y) override {
    expect(a.numel() == b.numel() && a.numel() == y.numel(), "residual", dims_str(a.shape()));
    cuda::launch_add(dev(a), dev(b), dev(y), a.numel(), stream_);
  }
  void residual_backward(const Tensor& dy, Tensor& da, Tensor& db) override {
    for (Tensor* d : {&da, &db})
      if (!d->empty()) cuda::launch_copy_blocks(dev(dy), 0, 0, dev(*d), 0, 0, 1, dy.numel(), true, stream_);
  }

  void adamw_step(Tensor& w, const Tensor& grad, Tensor& m, Tensor& v, const AdamWParams& p,
                  std::int64_t step) override {
    expect(w.numel() == grad.numel() && w.numel() == m.numel() && w.numel() == v.numel(), "adamw", dims_str(w.shape()));
    fp32_only("adamw", {&w, &m, &v});
    const auto c1 = static_cast<float>(1.0 - std::pow(static_cast<double>(p.beta1), static_cast<double>(step)));
    const auto c2 = static_cast<float>(1.0 - std::pow(static_cast<double>(p.beta2), static_cast<double>(step)));
    cuda::launch_adamw(w.f32(), dev(grad), m.f32(), v.f32(), w.numel(), p.lr, p.beta1, p.beta2, p.eps, p.weight_decay,
                       c1, c2, stream_);
  }

  // Not yet on this backend (issue 22).
  void layer_norm_forward(const Tensor&, const Tensor&, const Tensor&, Tensor&, Tensor&, Tensor&) override {
    missing("layer_norm");
  }
  void layer_norm_backward(const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&, Tensor&, Tensor&,
                           Tensor&) override {
    missing("layer_norm backward");
  }
  void attention_forward(const Tensor&, const Tensor&, const Tensor&, int, bool, Tensor&, Tensor&) override {
    missing("attention");
  }
  void attention_backward(const Tensor&, const Tensor&, const Tensor&, const Tensor&, int, const Tensor&, Tensor&,
                          Tensor&, Tensor&) override {
    missing("attention backward");
  }
  void gelu_mlp_forward(const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&, Tensor&, Tensor&,
                        Tensor&) override {
    missing("gelu_mlp");
  }
  void gelu_mlp_backward(const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&,
                         Tensor&, Tensor&, Tensor&, Tensor&, Tensor&) override {
    missing("gelu_mlp backward");
  }
  void swiglu_mlp_forward(const Tensor&, const Tensor&, const Tensor&, const Tensor&, Tensor&, Tensor&, Tensor&,
                          Tensor&) override {
    missing("swiglu_mlp");
  }
  void swiglu_mlp_backward(const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&,
                           const Tensor&, const Tensor&, Tensor&, Tensor&, Tensor&, Tensor&) override {
    missing("swiglu_mlp backward");
  }
  void mean_pool_forward(const Tensor&, Tensor&) override { missing("mean_pool"); }
  void mean_pool_backward(const Tensor&, Tensor&) override { missing("mean_pool backward"); }
  void patch_embed_forward(const Tensor&, const Tensor&, const Tensor&, const Tensor&, Tensor&) override {
    missing("patch_embed");
  }
  void patch_embed_backward(const Tensor&, const Tensor&, Tensor&, Tensor&, Tensor&) override {
    missing("patch_embed backward");
  }
  void token_embed_forward(const Tensor&, const Tensor&, Tensor&) override { missing("token_embed"); }
  void token_embed_backward(const Tensor&, const Tensor&, Tensor&) override { missing("token_embed backward"); }
  void contrastive_loss_forward(const Tensor&, const Tensor&, float, std::int64_t, std::int64_t, Tensor&) override {
    missing("contrastive_loss");
  }
  void contrastive_loss_backward(const Tensor&, const Tensor&, float, std::int64_t, std::int64_t, float, Tensor&,
                                 Tensor&) override {
    missing("contrastive_loss backward");
  }
  void lm_head_loss_forward(const Tensor&, const Tensor&, const Tensor&, Tensor&, Tensor&) override {
    missing("lm_head_loss");
  }
  void lm_head_loss_backward(const Tensor&, const Tensor&, const Tensor&, const Tensor&, float, Tensor&,
                             Tensor&) override {
    missing("lm_head_loss backward");
  }

 private:
  static constexpr std::size_t kWorkspaceBytes = std::size_t{32} << 20;  // cuBLASLt's, as PyTorch gives it on Hopper

  void copy_in(void* dst, const void* src, std::size_t bytes) {
    SPINDLE_CUDA(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, stream_));
    SPINDLE_CUDA(cudaStreamSynchronize(stream_));  // the host buffer may go once this returns
  }
  void copy_out(void* dst, const void* src, std::size_t bytes) {
    SPINDLE_CUDA(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, stream_));
    SPINDLE_CUDA(cudaStreamSynchronize(stream_));
  }

  static void fp32_only(const char* kernel, std::initializer_list<const Tensor*> ts) {
    for (const Tensor* t : ts)
      if (!t->empty() && t->dtype() != DType::kF32)
        throw InternalError(std::string("the CUDA backend's ") + kernel +
                            " runs on fp32 tensors only so far (bf16 GEMMs come with bf16 weight copies, issue 22)");
  }

  // Column-major C [m, n] = op(A) op(B) (+ beta C) (+ bias [m] per column), fp32, through
  // cuBLASLt with its default heuristic; op(A) is A^T when ta (A stored k x m), else A (m x k).
  void matmul(bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k, const void* a, std::int64_t lda,
              const void* b, std::int64_t ldb, void* c, std::int64_t ldc, float beta, const void* bias) {
    if (m == 0 || n == 0) return;
    cublasLtMatmulDesc_t desc = nullptr;
    cublasLtMatrixLayout_t la = nullptr, lb = nullptr, lc = nullptr;
    SPINDLE_CUBLAS(cublasLtMatmulDescCreate(&desc, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    const cublasOperation_t opa = ta ? CUBLAS_OP_T : CUBLAS_OP_N, opb = tb ? CUBLAS_OP_T : CUBLAS_OP_N;
    try {
      SPINDLE_CUBLAS(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSA, &opa, sizeof opa));
      SPINDLE_CUBLAS(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSB, &opb, sizeof opb));
      if (bias) {
        const cublasLtEpilogue_t epi = CUBLASLT_EPILOGUE_BIAS;
        SPINDLE_CUBLAS(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof epi));
        SPINDLE_CUBLAS(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias));
      }
      SPINDLE_CUBLAS(cublasLtMatrixLayoutCreate(&la, CUDA_R_32F, static_cast<std::uint64_t>(ta ? k : m),
                                                static_cast<std::uint64_t>(ta ? m : k), lda));
      SPINDLE_CUBLAS(cublasLtMatrixLayoutCreate(&lb, CUDA_R_32F, static_cast<std::uint64_t>(tb ? n : k),
                                                static_cast<std::uint64_t>(tb ? k : n), ldb));
      SPINDLE_CUBLAS(cublasLtMatrixLayoutCreate(&lc, CUDA_R_32F, static_cast<std::uint64_t>(m),
                                                static_cast<std::uint64_t>(n), ldc));
      const float alpha = 1.0f;
      SPINDLE_CUBLAS(cublasLtMatmul(lt_, desc, &alpha, a, la, b, lb, &beta, c, lc, c, lc, nullptr, workspace_.get(),
                                    kWorkspaceBytes, stream_));
    } catch (...) {
      release(desc, la, lb, lc);
      throw;
    }
    release(desc, la, lb, lc);
  }
  static void release(cublasLtMatmulDesc_t desc, cublasLtMatrixLayout_t la, cublasLtMatrixLayout_t lb,
                      cublasLtMatrixLayout_t lc) {
    for (cublasLtMatrixLayout_t l : {la, lb, lc})
      if (l) cublasLtMatrixLayoutDestroy(l);
    if (desc) cublasLtMatmulDescDestroy(desc);
  }

  int device_ = 0;
  cudaStream_t stream_ = nullptr;
  cublasLtHandle_t lt_ = nullptr;
  std::shared_ptr<cuda::DeviceCache> cache_;
  std::shared_ptr<void> workspace_;
  double* scalar_ = nullptr;  // sum_squares' result
};

}  // namespace

std::unique_ptr<Backend> make_cuda_backend() { return std::make_unique<CudaBackend>(); }

}  // namespace spindle::engine
