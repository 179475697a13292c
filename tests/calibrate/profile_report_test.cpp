// spindle-calibrate --report on a profile with kernel records (as CUPTI gives them on a GPU):
// the device's own time per point, the share of the measured time the device was busy per
// operator kind, and its longest kernels first; a profile without records shows none of it.
#include "calibrate/report/profile_report.h"

#include <gtest/gtest.h>

namespace spindle::calibrate {
namespace {

Profile gpu_profile(bool records) {
  Profile p;
  p.backend = "cuda", p.device = "NVIDIA H100 80GB HBM3", p.timer = "cuda_events", p.date = "2026-12-07T00:00:00Z";
  for (std::int64_t batch : {2, 4}) {
    OpMeasurement m;
    m.key.kind = "encoder_layer", m.key.dtype = "bf16", m.key.batch = batch, m.key.seq = 64, m.key.hidden = 256;
    m.key.heads = 4, m.key.ffn = 1024;
    m.samples = 5, m.fwd_ms = 0.1 * static_cast<double>(batch), m.bwd_ms = 0.2 * static_cast<double>(batch);
    if (records) {
      m.fwd_kernel_ms = 0.05 * static_cast<double>(batch), m.bwd_kernel_ms = 0.1 * static_cast<double>(batch);
      m.fwd_kernels = 9, m.bwd_kernels = 17;
      m.kernels = {{"bwd", "sm90_gemm_nn", 6, 0.08 * static_cast<double>(batch)},
                   {"fwd", "layer_norm_kernel", 2, 0.01 * static_cast<double>(batch)},
                   {"fwd", "sm90_gemm_tn", 4, 0.04 * static_cast<double>(batch)}};
    }
    p.add(m);
  }
  return p;
}

TEST(ProfileReport, ShowsTheDevicesOwnTimeWhereKernelsWereRecorded) {
  const std::string r = profile_report(gpu_profile(true));
  EXPECT_NE(r.find("fwd device ms"), std::string::npos) << r;
  EXPECT_NE(r.find("9.0 + 17.0"), std::string::npos) << r;
  // Busy: (0.15 + 0.3) x 2 batches' worth over (0.3 + 0.6): 50%.
  const size_t kernels = r.find("Kernels (device busy");
  ASSERT_NE(kernels, std::string::npos) << r;
  const std::string section = r.substr(kernels);
  // The kind's first row: busy 50%, its longest kernel 0.24 of 0.39 ms of kernels (61.5%).
  const size_t row = section.find("encoder_layer");
  ASSERT_NE(row, std::string::npos) << section;
  const std::string first = section.substr(row, section.find('\n', row) - row);
  for (const char* cell : {"50.0%", "bwd", "sm90_gemm_nn", "61.5%"})
    EXPECT_NE(first.find(cell), std::string::npos) << cell << " in " << first;
  EXPECT_LT(section.find("sm90_gemm_nn"), section.find("sm90_gemm_tn"));  // longest first
  EXPECT_LT(section.find("sm90_gemm_tn"), section.find("layer_norm_kernel"));
}

TEST(ProfileReport, NoKernelColumnsWithoutRecords) {
  const std::string r = profile_report(gpu_profile(false));
  EXPECT_EQ(r.find("device ms"), std::string::npos) << r;
  EXPECT_EQ(r.find("Kernels ("), std::string::npos) << r;
}

}  // namespace
}  // namespace spindle::calibrate
