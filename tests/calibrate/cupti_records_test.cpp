// CUPTI's activity records as the recorder reads them, without a GPU: buffers laid out as CUPTI
// fills them (the CUDA 13 record structs, CUPTI's own cuptiActivityGetNextRecord walking them)
// with the records a recorded layer gives (cuBLASLt GEMMs, a layer norm on a second stream, a
// memset, a host-to-device copy, the flush before the run, driver API records, external
// correlations of two runs and of another tool's kind), parsed by parse_activity_buffer and
// grouped per run. Hand-made in CUPTI's layout, not recorded on a GPU: none was at hand (issue 23).
#include <cupti.h>
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "calibrate/cuda/cupti_recorder.h"
#include "calibrate/measure/kernel_records.h"

namespace spindle::calibrate {
namespace {

class Buffer {
 public:
  template <typename Record>
  void add(const Record& r) {
    const size_t at = bytes_.size();
    bytes_.resize(at + sizeof r);
    std::memcpy(bytes_.data() + at, &r, sizeof r);
  }
  std::uint8_t* data() { return bytes_.data(); }
  size_t size() const { return bytes_.size(); }

 private:
  std::vector<std::uint8_t> bytes_;  // std::allocator: aligned well past CUPTI's 8 bytes
};

CUpti_ActivityKernel10 kernel(const char* name, std::uint64_t start, std::uint64_t end, std::uint32_t call,
                              std::uint32_t stream) {
  CUpti_ActivityKernel10 k;
  std::memset(&k, 0, sizeof k);
  k.kind = CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL;
  k.name = name, k.start = start, k.end = end, k.correlationId = call, k.streamId = stream;
  return k;
}

CUpti_ActivityExternalCorrelation correlation(std::uint32_t call, std::uint64_t run,
                                              CUpti_ExternalCorrelationKind kind = CUPTI_EXTERNAL_CORRELATION_KIND_CUSTOM0) {
  CUpti_ActivityExternalCorrelation e;
  std::memset(&e, 0, sizeof e);
  e.kind = CUPTI_ACTIVITY_KIND_EXTERNAL_CORRELATION;
  e.externalKind = kind, e.externalId = run, e.correlationId = call;
  return e;
}

CUpti_ActivityAPI api(std::uint32_t call) {
  CUpti_ActivityAPI a;
  std::memset(&a, 0, sizeof a);
  a.kind = CUPTI_ACTIVITY_KIND_DRIVER, a.correlationId = call, a.start = 1, a.end = 2;
  return a;
}

constexpr const char* kGemm = "sm90_xmma_gemm_bf16bf16_bf16f32_f32_tn_n_tilesize128x128x64_cublas";
constexpr const char* kNorm = "_ZN7spindle6engine4cuda17layer_norm_kernelEPKfS3_S3_PfS4_S4_ii";

Buffer layer_runs() {
  Buffer b;
  CUpti_ActivityMemset4 flush;
  std::memset(&flush, 0, sizeof flush);
  flush.kind = CUPTI_ACTIVITY_KIND_MEMSET, flush.start = 1000, flush.end = 40000, flush.correlationId = 100;
  b.add(flush);
  // Run 1 (a forward): a GEMM, a layer norm on stream 14 overlapping its end, a second GEMM;
  // CUPTI writes each external correlation just before its API call's record (skipped).
  for (std::uint32_t call : {101u, 102u, 103u}) {
    b.add(correlation(call, 1));
    b.add(api(call));
  }
  b.add(kernel(kGemm, 50000, 62000, 101, 13));
  b.add(kernel(kNorm, 61000, 64000, 102, 14));
  b.add(kernel(kGemm, 66000, 78000, 103, 13));
  // Run 2 (its backward): a memset of the gradient and a copy, then a GEMM. Another tool's
  // correlation kind on the same call is not ours.
  b.add(correlation(201, 2));
  b.add(correlation(201, 77, CUPTI_EXTERNAL_CORRELATION_KIND_OPENACC));
  b.add(correlation(202, 2));
  b.add(correlation(203, 2));
  CUpti_ActivityMemset4 zero;
  std::memset(&zero, 0, sizeof zero);
  zero.kind = CUPTI_ACTIVITY_KIND_MEMSET, zero.start = 90000, zero.end = 91000, zero.correlationId = 201;
  b.add(zero);
  CUpti_ActivityMemcpy6 copy;
  std::memset(&copy, 0, sizeof copy);
  copy.kind = CUPTI_ACTIVITY_KIND_MEMCPY, copy.copyKind = CUPTI_ACTIVITY_MEMCPY_KIND_HTOD;
  copy.start = 91000, copy.end = 93000, copy.correlationId = 202;
  b.add(copy);
  b.add(kernel(kGemm, 95000, 119000, 203, 13));
  return b;
}

TEST(CuptiRecords, ABufferParsesIntoKernelsAndRuns) {
  Buffer b = layer_runs();
  KernelRecords r;
  parse_activity_buffer(b.data(), b.size(), r);
  ASSERT_EQ(r.kernels.size(), 7u);
  EXPECT_EQ(r.kernels[0].name, "[memset]");
  EXPECT_EQ(r.kernels[1].name, kGemm);
  EXPECT_EQ(r.kernels[2].stream_id, 14u);
  EXPECT_EQ(r.kernels[5].name, "[memcpy HtoD]");
  EXPECT_EQ(r.run_of_call.size(), 6u);
  EXPECT_EQ(r.run_of_call.at(201), 2u);  // the OpenACC id on the same call is not taken
  EXPECT_EQ(r.dropped, 0u);
}

TEST(CuptiRecords, RunsGetTheirKernelsBusyTimeAndNames) {
  Buffer b = layer_runs();
  KernelRecords r;
  parse_activity_buffer(b.data(), b.size(), r);
  const RunsKernels runs = kernels_by_run(r);
  EXPECT_EQ(runs.unattributed, 1);  // the flush
  const RunKernels& fwd = runs.runs.at(1);
  EXPECT_EQ(fwd.kernels, 3);
  EXPECT_DOUBLE_EQ(fwd.busy_ms, 26000e-6);  // [50, 64) + [66, 78) us
  EXPECT_DOUBLE_EQ(fwd.span_ms, 28000e-6);
  EXPECT_DOUBLE_EQ(fwd.by_name.at(kGemm).second, 24000e-6);
  const RunKernels& bwd = runs.runs.at(2);
  EXPECT_EQ(bwd.kernels, 3);
  EXPECT_DOUBLE_EQ(bwd.busy_ms, 27000e-6);
  EXPECT_EQ(bwd.by_name.at("[memcpy HtoD]").first, 1);
}

TEST(CuptiRecords, PartBuffersAndAnEmptyOneParse) {
  Buffer b = layer_runs();
  KernelRecords r;
  parse_activity_buffer(b.data(), 0, r);
  EXPECT_TRUE(r.kernels.empty());
  // The first record alone (CUPTI hands back the bytes it filled).
  parse_activity_buffer(b.data(), sizeof(CUpti_ActivityMemset4), r);
  EXPECT_EQ(r.kernels.size(), 1u);
}

}  // namespace
}  // namespace spindle::calibrate
