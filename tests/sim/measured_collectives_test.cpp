// Published nccl-tests results (tests/sim/nccl_tests/*.toml) against the simulator and NCCL's
// own model (which the simulator runs by default). Every file must read; the errors reached today are asserted as ceilings, so that
// a change that moves the model away from the measurements fails here (tighten them as the
// model improves; the collectives issue's goal is 15% for >= 1 MiB and 25% below 64 KiB).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include "sim/replay/measured_collectives.h"
#include "traces/errors.h"

namespace spindle {
namespace {

namespace fs = std::filesystem;

const fs::path kData = fs::path(SPINDLE_SOURCE_DIR) / "tests" / "sim" / "nccl_tests";
const fs::path kBase = fs::path(SPINDLE_SOURCE_DIR) / "scenarios" / "multitask-clip-4.toml";

TEST(MeasuredCollectives, EveryPublishedFileReadsAndStaysWithinTodaysErrors) {
  // NCCL model's median |error| for sizes >= 1 MiB, as reached when the files were added.
  const std::map<std::string, double> model_ceiling = {
      {"aws-p4de-a100-2node", 0.50},
      {"aws-p5-h100-1node", 0.26},
      {"aws-p5-h100-2node", 0.44},
      {"aws-p5-h100-2node-eks", 1.12},
      {"azure-nd-a100-v4-1node", 0.26},
      {"azure-nd-h100-v5-1node", 0.31},
      {"galvatron-dgx-a100-1node", 0.39},
      {"gcp-a3-high-h100-2node-allgather", 0.58},
      {"gcp-a3-mega-h100-2node", 1.35},
      {"gcp-a3-mega-h100-2node-allgather", 0.14},
      {"gh-index-42648468160-h100-1node-allgather", 0.07},
      {"gh-index-42648468160-h100-1node-reducescatter", 0.07},
      {"nccl-1047-h100-1node-reducescatter", 0.03},
      {"nccl-tests-309-h100-2node-ib400", 0.12},
      {"nccl-tests-309-h100-2node-ib400-b", 0.27},
      {"nccl-tests-309-h100-2node-ib400-ring", 0.21},
      {"nccl-tests-309-h100-4node-ib400", 0.26},
      {"nccl-tests-309-h100-4node-vm-ib400", 0.14},
      {"nccl-tests-309-h100-8node-ib400", 0.21},
      {"nccl-tests-309-h100-8node-ib400-minctas24", 0.28},
      {"nccl-tests-322-h100-128node-ring", 0.26},
      {"nebius-h100-2node-ib", 0.29},
      {"oci-bm-gpu4-a100-2node", 0.11},
      {"wutz-h100-2node-ib400-ring", 0.20}};
  // NCCL model's median |error| below 64 KiB (latency-bound), where a file has such rows (the
  // goal: 25%; systems with 45 us floors and network plugins' latencies are far off).
  const std::map<std::string, double> small_ceiling = {
      {"aws-p4de-a100-2node", 5.40},    {"aws-p5-h100-1node", 0.13},     {"aws-p5-h100-2node", 2.10},
      {"azure-nd-a100-v4-1node", 1.85}, {"azure-nd-h100-v5-1node", 0.09}, {"gcp-a3-mega-h100-2node", 4.10},
      {"nccl-tests-309-h100-2node-ib400", 0.26}, {"nccl-tests-309-h100-4node-vm-ib400", 0.28},
      {"nebius-h100-2node-ib", 0.29},   {"oci-bm-gpu4-a100-2node", 0.81}};
  int files = 0;
  for (const auto& e : fs::directory_iterator(kData)) {
    if (e.path().extension() != ".toml") continue;
    ++files;
    const std::string name = e.path().stem().string();
    SCOPED_TRACE(name);
    const MeasuredCollective m = read_measured(e.path());
    EXPECT_FALSE(m.source.empty());
    ASSERT_GE(m.rows.size(), 5u);
    const Comparison c = compare_measured(kBase, m, {});
    ASSERT_EQ(c.rows.size(), m.rows.size());
    std::printf("[nccl-tests] %-28s >= 1 MiB median |error|: simulated %.1f%%, NCCL model %.1f%%\n", name.c_str(),
                100 * c.sim_median_big, 100 * c.model_median_big);
    if (!model_ceiling.count(name)) {
      ADD_FAILURE() << "a new file: add its ceiling";
      continue;
    }
    EXPECT_LE(c.model_median_big, model_ceiling.at(name));
    // The simulator runs NCCL's model by default (GPU scenarios, NCCL_ALGO as the run forced it):
    // alone on the network its time, or longer where a link carries less than the model counts
    // on (gcp-a3-mega: the NVLS tree's crossings at 80% of the NICs).
    EXPECT_LE(c.sim_median_big, model_ceiling.at(name));
    if (small_ceiling.count(name)) {
      std::printf("[nccl-tests] %-28s  < 64 KiB median |error|: simulated %.1f%%, NCCL model %.1f%%\n", name.c_str(),
                  100 * c.sim_median_small, 100 * c.model_median_small);
      EXPECT_GE(c.model_median_small, 0);
      EXPECT_LE(c.model_median_small, small_ceiling.at(name));
      EXPECT_LE(c.sim_median_small, small_ceiling.at(name));
    } else {
      EXPECT_LT(c.model_median_small, 0) << "rows below 64 KiB: add the file's small-size ceiling";
    }
    if (name == "azure-nd-a100-v4-1node") {  // --set reaches the comparison: the hierarchical ring's 35%
      const Comparison ring = compare_measured(kBase, m, {}, {"cluster.collectives=\"hierarchical_ring\""});
      EXPECT_NEAR(ring.sim_median_big, 0.351, 0.005);
      EXPECT_DOUBLE_EQ(ring.model_median_big, c.model_median_big);
    }
  }
  EXPECT_EQ(files, static_cast<int>(model_ceiling.size()));
}

TEST(MeasuredCollectives, BadFilesAreOneLine) {
  const fs::path f = fs::temp_directory_path() / ("spindle-measured-" + std::to_string(::getpid()) + ".toml");
  auto error_of = [&](const std::string& text) {
    std::FILE* out = std::fopen(f.c_str(), "w");
    std::fputs(text.c_str(), out);
    std::fclose(out);
    try {
      read_measured(f);
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  const std::string ok = "[measurement]\nsource = \"s\"\nwhat = \"w\"\ncollective = \"all_reduce\"\nranks = 8\n"
                         "set = [\"cluster.nodes=1\"]\nsize_B = [1024, 2048]\n";
  EXPECT_THAT(error_of(ok + "busbw_GBps = [1.0]\n"), ::testing::HasSubstr("busbw_GBps: 1 values for 2 sizes"));
  EXPECT_THAT(error_of(ok + "busbw_GBps = [1.0, -2.0]\n"), ::testing::HasSubstr("busbw that is negative"));
  EXPECT_THAT(error_of(ok + "busbw_GBps = [1.0, 2.0]\nalgo = \"ring\"\n"), ::testing::HasSubstr("measurement.algo: unknown key"));
  EXPECT_EQ(error_of(ok + "busbw_GBps = [1.0, 2.0]\n"), "");
  std::filesystem::remove(f);
}

}  // namespace
}  // namespace spindle
