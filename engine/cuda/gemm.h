// One cuBLASLt GEMM, described once: column-major D [m, n] = alpha op(A) op(B) + beta C (+ an
// fp32 bias [m] per column), A and B of one element type, C and D of one, fp32 accumulation;
// the operands' real alignment told to the heuristic (head slices and row views are often far
// less than 256-byte aligned: PyTorch met "misaligned address" without it). The CUDA backend
// runs each GEMM with the heuristic's first algorithm; spindle-bench-gemm times the heuristic's
// other candidates against it. While the GEMM log is open, every GEMM the backend runs is
// recorded (its shape, types and alignments), for that benchmark.
#pragma once

#include <cublasLt.h>
#include <cuda_runtime.h>

#include <compare>
#include <cstdint>
#include <string>
#include <vector>

namespace spindle::engine::cuda {

struct GemmShape {
  bool ta = false, tb = false;  // op(A) = A^T (A stored k x m), op(B) = B^T (B stored n x k)
  std::int64_t m = 0, n = 0, k = 0, lda = 0, ldb = 0, ldc = 0;
  cudaDataType ab = CUDA_R_32F, cd = CUDA_R_32F;
  bool bias = false;
  std::uint32_t align_a = 256, align_b = 256, align_c = 256;  // bytes, powers of two 2..256
  std::uint32_t align_bias = 0;  // the bias's (the heuristic reads it from the bias pointer); 0: no bias

  auto operator<=>(const GemmShape&) const = default;
  std::string str() const;  // "m x n x k, ta tb, bf16 -> fp32, bias, align 256/256/256"
  double flops() const { return 2.0 * static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k); }
};

// The largest power of two (2 to 256) dividing a pointer.
std::uint32_t alignment_of(const void* p);

class Gemm {
 public:
  // `bias` (fp32, m elements; requires an fp32 D) or nullptr. Throws CudaError.
  Gemm(cublasLtHandle_t lt, const GemmShape& shape, const void* bias, std::size_t workspace_bytes);
  ~Gemm();
  Gemm(const Gemm&) = delete;
  Gemm& operator=(const Gemm&) = delete;

  // Up to `most` algorithms that cuBLASLt says run (state success), the heuristic's best first;
  // none where it has no algorithm.
  std::vector<cublasLtMatmulHeuristicResult_t> algorithms(int most) const;
  // Queues D = alpha op(A) op(B) + beta C on `stream` (C and D are `c`).
  void run(const cublasLtMatmulAlgo_t& algo, const void* a, const void* b, void* c, float alpha, float beta,
           void* workspace, cudaStream_t stream) const;

 private:
  void release();
  cublasLtHandle_t lt_;
  GemmShape shape_;
  std::size_t workspace_bytes_;
  cublasLtMatmulDesc_t desc_ = nullptr;
  cublasLtMatrixLayout_t la_ = nullptr, lb_ = nullptr, lc_ = nullptr;
  cublasLtMatmulPreference_t pref_ = nullptr;
};

// The GEMM log (process-wide, thread-safe): open, run the work, close to take what ran.
void gemm_log_open();
std::vector<GemmShape> gemm_log_close();
void gemm_log_add(const GemmShape& shape);  // recorded only while open

}  // namespace spindle::engine::cuda
