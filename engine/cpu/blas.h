// The one wrapper around Debian's OpenBLAS (cblas, single-threaded: the logical devices are
// threads already, and one thread keeps every result the same run to run): general matrix
// products for the kernels that are GEMMs (linear maps). Row-major throughout.
#pragma once

#include <cstdint>
#include <string>

namespace spindle::engine::cpu {

// C[m, n] = alpha op(A) op(B) + beta C, op(X) = X^T where trans_x; A is [m, k] (or [k, m]
// transposed), B [k, n] (or [n, k]); lda, ldb, ldc are the row strides in elements.
template <class T>
void gemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, T alpha, const T* a,
          std::int64_t lda, const T* b, std::int64_t ldb, T beta, T* c, std::int64_t ldc);

// What runs the GEMMs, as a calibration profile records it: OpenBLAS's build configuration
// (version, target, threading) and the threads it uses per call (set to 1 before the first
// GEMM, which this does too), e.g. "OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY Zen MAX_THREADS=64; 1 thread".
std::string blas_library();

}  // namespace spindle::engine::cpu
