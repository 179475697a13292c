// OpenBLAS behind gemm() (see blas.h).
#include "engine/cpu/blas.h"

#include <cblas.h>

#include <climits>
#include <mutex>
#include <string>

#include "traces/errors.h"

namespace spindle::engine::cpu {
namespace {

// One OpenBLAS thread per call, set before the first.
void single_threaded() {
  static std::once_flag once;
  std::call_once(once, [] { openblas_set_num_threads(1); });
}

}  // namespace

std::string blas_library() {
  single_threaded();
  const char* config = openblas_get_config();
  std::string s = config ? config : "OpenBLAS";
  while (!s.empty() && s.back() == ' ') s.pop_back();
  const int threads = openblas_get_num_threads();
  return s + "; " + std::to_string(threads) + (threads == 1 ? " thread" : " threads");
}

namespace {

blasint dim(std::int64_t v, const char* what) {
  if (v < 0 || v > INT_MAX) throw InternalError(std::string("gemm: ") + what + " = " + std::to_string(v) + " outside BLAS's int");
  return static_cast<blasint>(v);
}

// Checks and the k = 0 case, then `blas_gemm` (cblas_sgemm or cblas_dgemm).
template <class T, class Gemm>
void run_gemm(Gemm blas_gemm, bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, T alpha,
              const T* a, std::int64_t lda, const T* b, std::int64_t ldb, T beta, T* c, std::int64_t ldc) {
  if (m == 0 || n == 0) return;
  if (k == 0) {  // C = beta C (BLAS would refuse a zero leading dimension)
    for (std::int64_t i = 0; i < m; ++i)
      for (std::int64_t j = 0; j < n; ++j) c[i * ldc + j] *= beta;
    return;
  }
  single_threaded();
  blas_gemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, dim(m, "m"),
            dim(n, "n"), dim(k, "k"), alpha, a, dim(lda, "lda"), b, dim(ldb, "ldb"), beta, c, dim(ldc, "ldc"));
}

}  // namespace

template <>
void gemm<float>(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, float alpha,
                 const float* a, std::int64_t lda, const float* b, std::int64_t ldb, float beta, float* c,
                 std::int64_t ldc) {
  run_gemm<float>(cblas_sgemm, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

template <>
void gemm<double>(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, double alpha,
                  const double* a, std::int64_t lda, const double* b, std::int64_t ldb, double beta, double* c,
                  std::int64_t ldc) {
  run_gemm<double>(cblas_dgemm, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

}  // namespace spindle::engine::cpu
