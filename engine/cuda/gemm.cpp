// cuBLASLt GEMM descriptions and the GEMM log (see gemm.h).
#include "engine/cuda/gemm.h"

#include <mutex>

#include "engine/cuda/cuda_check.h"

namespace spindle::engine::cuda {
namespace {

const char* type_name(cudaDataType t) { return t == CUDA_R_16BF ? "bf16" : t == CUDA_R_32F ? "fp32" : "other"; }

struct Log {
  std::mutex mu;
  bool open = false;
  std::vector<GemmShape> shapes;
};
Log& log() {
  static Log l;
  return l;
}

}  // namespace

std::string GemmShape::str() const {
  return std::to_string(m) + " x " + std::to_string(n) + " x " + std::to_string(k) + ", " + (ta ? "T" : "N") +
         (tb ? "T" : "N") + ", " + type_name(ab) + " -> " + type_name(cd) + (bias ? ", bias" : "") + ", align " +
         std::to_string(align_a) + "/" + std::to_string(align_b) + "/" + std::to_string(align_c) +
         (bias ? "/" + std::to_string(align_bias) : "");
}

std::uint32_t alignment_of(const void* p) {
  const auto x = reinterpret_cast<std::uintptr_t>(p);
  std::uint32_t a = 256;
  while (a > 2 && x % a != 0) a /= 2;
  return a;
}

Gemm::Gemm(cublasLtHandle_t lt, const GemmShape& s, const void* bias, std::size_t workspace_bytes)
    : lt_(lt), shape_(s), workspace_bytes_(workspace_bytes) {
  if ((bias != nullptr) != s.bias || (bias != nullptr) != (s.align_bias != 0))
    throw CudaError("cuBLASLt GEMM " + s.str() + ": bias pointer and shape disagree");
  if (s.bias && s.cd != CUDA_R_32F) throw CudaError("cuBLASLt GEMM " + s.str() + ": a bias needs an fp32 output");
  try {
    SPINDLE_CUBLAS(cublasLtMatmulDescCreate(&desc_, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    const cublasOperation_t opa = s.ta ? CUBLAS_OP_T : CUBLAS_OP_N, opb = s.tb ? CUBLAS_OP_T : CUBLAS_OP_N;
    SPINDLE_CUBLAS(cublasLtMatmulDescSetAttribute(desc_, CUBLASLT_MATMUL_DESC_TRANSA, &opa, sizeof opa));
    SPINDLE_CUBLAS(cublasLtMatmulDescSetAttribute(desc_, CUBLASLT_MATMUL_DESC_TRANSB, &opb, sizeof opb));
    if (bias != nullptr) {
      const cublasLtEpilogue_t epi = CUBLASLT_EPILOGUE_BIAS;
      SPINDLE_CUBLAS(cublasLtMatmulDescSetAttribute(desc_, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof epi));
      SPINDLE_CUBLAS(cublasLtMatmulDescSetAttribute(desc_, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias));
    }
    const auto u = [](std::int64_t v) { return static_cast<std::uint64_t>(v); };
    SPINDLE_CUBLAS(cublasLtMatrixLayoutCreate(&la_, s.ab, u(s.ta ? s.k : s.m), u(s.ta ? s.m : s.k), s.lda));
    SPINDLE_CUBLAS(cublasLtMatrixLayoutCreate(&lb_, s.ab, u(s.tb ? s.n : s.k), u(s.tb ? s.k : s.n), s.ldb));
    SPINDLE_CUBLAS(cublasLtMatrixLayoutCreate(&lc_, s.cd, u(s.m), u(s.n), s.ldc));
    SPINDLE_CUBLAS(cublasLtMatmulPreferenceCreate(&pref_));
    const std::uint64_t ws = workspace_bytes;
    SPINDLE_CUBLAS(cublasLtMatmulPreferenceSetAttribute(pref_, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws));
    SPINDLE_CUBLAS(cublasLtMatmulPreferenceSetAttribute(pref_, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &s.align_a,
                                                        sizeof s.align_a));
    SPINDLE_CUBLAS(cublasLtMatmulPreferenceSetAttribute(pref_, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &s.align_b,
                                                        sizeof s.align_b));
    SPINDLE_CUBLAS(cublasLtMatmulPreferenceSetAttribute(pref_, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &s.align_c,
                                                        sizeof s.align_c));
    SPINDLE_CUBLAS(cublasLtMatmulPreferenceSetAttribute(pref_, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &s.align_c,
                                                        sizeof s.align_c));
  } catch (...) {
    release();
    throw;
  }
}

Gemm::~Gemm() { release(); }

void Gemm::release() {
  for (cublasLtMatrixLayout_t* l : {&la_, &lb_, &lc_})
    if (*l != nullptr) cublasLtMatrixLayoutDestroy(*l), *l = nullptr;
  if (desc_ != nullptr) cublasLtMatmulDescDestroy(desc_), desc_ = nullptr;
  if (pref_ != nullptr) cublasLtMatmulPreferenceDestroy(pref_), pref_ = nullptr;
}

std::vector<cublasLtMatmulHeuristicResult_t> Gemm::algorithms(int most) const {
  std::vector<cublasLtMatmulHeuristicResult_t> found(static_cast<std::size_t>(most > 0 ? most : 1));
  int count = 0;
  SPINDLE_CUBLAS(cublasLtMatmulAlgoGetHeuristic(lt_, desc_, la_, lb_, lc_, lc_, pref_, static_cast<int>(found.size()),
                                                found.data(), &count));
  found.resize(static_cast<std::size_t>(count));
  std::erase_if(found, [](const cublasLtMatmulHeuristicResult_t& r) { return r.state != CUBLAS_STATUS_SUCCESS; });
  return found;
}

void Gemm::run(const cublasLtMatmulAlgo_t& algo, const void* a, const void* b, void* c, float alpha, float beta,
               void* workspace, cudaStream_t stream) const {
  SPINDLE_CUBLAS(cublasLtMatmul(lt_, desc_, &alpha, a, la_, b, lb_, &beta, c, lc_, c, lc_, &algo, workspace,
                                workspace_bytes_, stream));
}

void gemm_log_open() {
  Log& l = log();
  const std::lock_guard<std::mutex> lock(l.mu);
  l.open = true;
  l.shapes.clear();
}

std::vector<GemmShape> gemm_log_close() {
  Log& l = log();
  const std::lock_guard<std::mutex> lock(l.mu);
  l.open = false;
  return std::move(l.shapes);
}

void gemm_log_add(const GemmShape& shape) {
  Log& l = log();
  const std::lock_guard<std::mutex> lock(l.mu);
  if (l.open) l.shapes.push_back(shape);
}

}  // namespace spindle::engine::cuda
