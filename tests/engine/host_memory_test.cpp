// The CPU backend's host pieces: gemm (cpu/blas.h) against a plain triple loop for every
// transpose combination, row strides wider than the matrices and k = 0; the host cache
// reuses a freed block of the same size zeroed and counts bytes in use and their peak; the
// backend's time marks measure the work between them (the steady clock).
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <thread>
#include <vector>

#include "engine/cpu/blas.h"
#include "engine/cpu/cpu_backend.h"
#include "engine/cpu/host_cache.h"

namespace spindle::engine::test {
namespace {

TEST(Blas, GemmMatchesLoopsForEveryTransposeAndStride) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> u(-1, 1);
  const std::int64_t m = 5, n = 7, k = 3, pad = 2;
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      SCOPED_TRACE(std::string(ta ? "A^T" : "A") + (tb ? " B^T" : " B"));
      const std::int64_t lda = (ta ? m : k) + pad, ldb = (tb ? k : n) + pad, ldc = n + pad;
      std::vector<double> a(static_cast<size_t>((ta ? k : m) * lda)), b(static_cast<size_t>((tb ? n : k) * ldb)),
          c(static_cast<size_t>(m * ldc));
      for (double& x : a) x = u(rng);
      for (double& x : b) x = u(rng);
      for (double& x : c) x = u(rng);
      auto product = [&](std::int64_t i, std::int64_t j) {  // (op(A) op(B))[i, j], by the definition
        double s = 0;
        for (std::int64_t p = 0; p < k; ++p)
          s += (ta ? a[static_cast<size_t>(p * lda + i)] : a[static_cast<size_t>(i * lda + p)]) *
               (tb ? b[static_cast<size_t>(j * ldb + p)] : b[static_cast<size_t>(p * ldb + j)]);
        return s;
      };
      std::vector<double> want = c;
      for (std::int64_t i = 0; i < m; ++i)
        for (std::int64_t j = 0; j < n; ++j)
          want[static_cast<size_t>(i * ldc + j)] = 0.5 * product(i, j) + 2.0 * c[static_cast<size_t>(i * ldc + j)];
      cpu::gemm<double>(ta, tb, m, n, k, 0.5, a.data(), lda, b.data(), ldb, 2.0, c.data(), ldc);
      for (std::int64_t i = 0; i < m; ++i)
        for (std::int64_t j = 0; j < ldc; ++j) {
          const size_t at = static_cast<size_t>(i * ldc + j);
          if (j < n)
            EXPECT_NEAR(c[at], want[at], 1e-12) << i << "," << j;
          else
            EXPECT_EQ(c[at], want[at]) << "padding written at " << i << "," << j;
        }
      // float: the same product in single precision (beta 0 ignores what C held).
      std::vector<float> fa(a.begin(), a.end()), fb(b.begin(), b.end()), fc(static_cast<size_t>(m * ldc), 7.f);
      cpu::gemm<float>(ta, tb, m, n, k, 1.f, fa.data(), lda, fb.data(), ldb, 0.f, fc.data(), ldc);
      for (std::int64_t i = 0; i < m; ++i)
        for (std::int64_t j = 0; j < n; ++j) EXPECT_NEAR(fc[static_cast<size_t>(i * ldc + j)], product(i, j), 1e-5);
    }
  std::vector<float> c{3.f, 4.f};
  cpu::gemm<float>(false, false, 1, 2, 0, 1.f, nullptr, 1, nullptr, 2, 0.5f, c.data(), 2);  // k = 0: C = beta C
  EXPECT_EQ(c, (std::vector<float>{1.5f, 2.f}));
}

TEST(HostCache, ReusesAFreedBlockZeroedAndCountsThePeak) {
  auto cache = cpu::HostCache::make();
  void* first = nullptr;
  {
    std::shared_ptr<void> a = cache->get(4096), b = cache->get(64);
    first = a.get();
    std::memset(a.get(), 0xab, 4096);
    EXPECT_EQ(cache->bytes_in_use(), 4160u);
  }
  EXPECT_EQ(cache->bytes_in_use(), 0u);
  EXPECT_EQ(cache->bytes_cached(), 4160u);
  std::shared_ptr<void> again = cache->get(4096);
  EXPECT_EQ(again.get(), first);  // the same block, not a fresh one
  const auto* bytes = static_cast<const unsigned char*>(again.get());
  for (size_t i = 0; i < 4096; ++i) ASSERT_EQ(bytes[i], 0) << "byte " << i << " not zeroed";
  EXPECT_EQ(cache->bytes_cached(), 64u);
  std::shared_ptr<void> other = cache->get(100);  // another size: a new block
  EXPECT_EQ(cache->bytes_in_use(), 4196u);
  EXPECT_EQ(cache->peak_bytes(), 4196u);
}

// What spindle-calibrate times with: the interval between two marks covers what ran between
// them (a sleep of 3 ms here: at least that, and the clock the profile names).
TEST(TimeMarks, MeasureTheWorkBetweenThem) {
  CpuBackend be;
  EXPECT_EQ(be.timer_name(), "steady_clock");
  const auto a = be.time_mark();
  std::this_thread::sleep_for(std::chrono::milliseconds(3));
  const auto b = be.time_mark();
  EXPECT_GE(be.elapsed_ms(*a, *b), 3.0);
  EXPECT_LE(be.elapsed_ms(*b, *a), 0.0);
}

}  // namespace
}  // namespace spindle::engine::test
