// Sweep expansion: cartesian order (last key fastest), zip, [[sweep]] unions, nested keys,
// task subsets and base files per point; malformed sweeps and bad points fail with their place
// or their coordinates.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "planner/config/toml_reader.h"
#include "sim/study/sweep.h"
#include "traces/errors.h"

namespace {

using ::testing::HasSubstr;

// A study file that lives in scenarios/studies/ (so ../multitask-clip-4.toml resolves).
spindle::Study study(const std::string& text) {
  const std::string file = SPINDLE_SOURCE_DIR "/scenarios/studies/test-study.toml";
  return spindle::read_study(spindle::config::parse_toml_string(text, file), file);
}

std::vector<std::string> labels(const spindle::Study& s) {
  std::vector<std::string> out;
  for (const auto& p : s.points) out.push_back(p.label());
  return out;
}

std::string error_of(const std::string& text) {
  try {
    study(text);
  } catch (const spindle::InputError& e) {
    return e.what();
  }
  return "";
}

const char* kBase = "[scenario]\nextends = \"../multitask-clip-4.toml\"\n";

TEST(Sweep, CartesianCrossesKeysLastFastest) {
  const auto s = study(std::string(kBase) + "[sweep]\n\"cluster.nodes\" = [1, 2]\n\"cluster.inter_node.bw_GBps\" = [25.0, 50.0, 100.0]\n");
  EXPECT_THAT(labels(s), ::testing::ElementsAre(
                             "cluster.nodes=1, cluster.inter_node.bw_GBps=25", "cluster.nodes=1, cluster.inter_node.bw_GBps=50",
                             "cluster.nodes=1, cluster.inter_node.bw_GBps=100", "cluster.nodes=2, cluster.inter_node.bw_GBps=25",
                             "cluster.nodes=2, cluster.inter_node.bw_GBps=50", "cluster.nodes=2, cluster.inter_node.bw_GBps=100"));
  EXPECT_EQ(s.points[4].index, 4);
  EXPECT_EQ(s.points[4].slug(), "004-nodes-2-bw_GBps-50");
  const spindle::Scenario sc = spindle::load_point(s, 4);
  EXPECT_EQ(sc.cluster.nodes, 2);
  EXPECT_DOUBLE_EQ(sc.cluster.inter_node.bw_GBps, 50.0);
  EXPECT_EQ(sc.name, "multitask-clip-4");
}

TEST(Sweep, FloatValuesKeepEveryDigitInLabels) {  // else distinct points would share a plot line
  const auto s = study(std::string(kBase) + "[sweep]\n\"cluster.inter_node.bw_GBps\" = [12.3456781, 12.3456782, 6.25]\n");
  EXPECT_THAT(labels(s), ::testing::ElementsAre("cluster.inter_node.bw_GBps=12.3456781",
                                                "cluster.inter_node.bw_GBps=12.3456782", "cluster.inter_node.bw_GBps=6.25"));
}

TEST(Sweep, ZipPairsValuesAndNeedsEqualLengths) {
  const auto s = study(std::string(kBase) + "[sweep]\nmode = \"zip\"\n\"tasks.0.batch\" = [32, 64]\n\"tasks.1.batch\" = [16, 32]\n");
  EXPECT_THAT(labels(s), ::testing::ElementsAre("tasks.0.batch=32, tasks.1.batch=16", "tasks.0.batch=64, tasks.1.batch=32"));
  EXPECT_EQ(spindle::load_point(s, 1).tasks[1].batch, 32);
  const std::string e = error_of(std::string(kBase) + "[sweep]\nmode = \"zip\"\n\"a.b\" = [1, 2]\n\"c.d\" = [1, 2, 3]\n");
  EXPECT_THAT(e, HasSubstr("test-study.toml:6:9: sweep.c.d"));
  EXPECT_THAT(e, HasSubstr("zip needs lists of one length"));
}

TEST(Sweep, UnionsNestedKeysBaseFilesAndTaskSubsets) {
  const auto s = study(
      "[[sweep]]\n\"scenario.extends\" = [\"../multitask-clip-4.toml\", \"../ofasys-4.toml\"]\n"
      "[[sweep]]\n\"scenario.extends\" = [\"../multitask-clip-4.toml\"]\ncluster.nodes = [2]\n"
      "tasks = [[\"text-audio\", \"vision-depth\"]]\n");
  ASSERT_EQ(s.points.size(), 3u);
  EXPECT_EQ(spindle::load_point(s, 1).name, "ofasys-4");
  EXPECT_EQ(s.points[2].label(),
            "scenario.extends=../multitask-clip-4.toml, cluster.nodes=2, tasks=[text-audio, vision-depth]");
  const spindle::Scenario sc = spindle::load_point(s, 2);
  EXPECT_EQ(sc.cluster.nodes, 2);
  ASSERT_EQ(sc.tasks.size(), 2u);
  EXPECT_EQ(sc.tasks[1].name, "vision-depth");
  EXPECT_THAT(s.keys, ::testing::ElementsAre("scenario.extends", "cluster.nodes", "tasks"));
}

TEST(Sweep, MalformedSweepsNameTheirPlace) {
  EXPECT_THAT(error_of(std::string(kBase) + "[sweep]\n\"cluster.nodes\" = 4\n"), HasSubstr("expected a list of values"));
  EXPECT_THAT(error_of(std::string(kBase) + "[sweep]\n\"cluster.nodes\" = []\n"), HasSubstr("an empty list"));
  EXPECT_THAT(error_of(std::string(kBase) + "[sweep]\nmode = \"diagonal\"\n\"a\" = [1]\n"), HasSubstr("cartesian"));
  EXPECT_THAT(error_of(std::string(kBase) + "[sweep]\nmode = \"zip\"\n"), HasSubstr("sweeps no key"));
  EXPECT_THAT(error_of(std::string(kBase) + "[sweep]\ntasks = [\"text-audio\"]\n"), HasSubstr("list of task names"));
  EXPECT_THAT(error_of(std::string(kBase) + "[study]\nx = \"cluster.gpus\"\n[sweep]\n\"cluster.nodes\" = [1]\n"),
              HasSubstr("'cluster.gpus' is not swept"));
  EXPECT_THAT(error_of(std::string(kBase) + "[study]\ncolour = \"red\"\n[sweep]\n\"cluster.nodes\" = [1]\n"),
              HasSubstr("study.colour"));
}

// 20 lists of 10 values are 10^20 points: refused before expanding (it exhausted memory).
TEST(Sweep, PointCountIsCappedBeforeExpanding) {
  std::string huge = std::string(kBase) + "[sweep]\n";
  for (int k = 0; k < 20; ++k) huge += "\"k" + std::to_string(k) + "\" = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]\n";
  EXPECT_THAT(error_of(huge), HasSubstr("sweep: crosses into more than 1000000 points"));
}

TEST(Sweep, BadPointNamesItsCoordinates) {
  const auto s = study(std::string(kBase) + "[sweep]\n\"cluster.nodes\" = [1, 0]\n\"cluster.gpus_per_node\" = [8]\n");
  EXPECT_NO_THROW(spindle::load_point(s, 0));
  try {
    spindle::load_point(s, 1);
    FAIL() << "cluster.nodes = 0 loaded";
  } catch (const spindle::InputError& e) {
    EXPECT_THAT(e.what(), HasSubstr("sweep point 1 (cluster.nodes=0, cluster.gpus_per_node=8)"));
    EXPECT_THAT(e.what(), HasSubstr("test-study.toml:4:"));  // the value's own place
  }
  const auto t = study(std::string(kBase) + "[sweep]\ntasks = [[\"text-audio\", \"no-such-task\"]]\n");
  EXPECT_THROW(spindle::load_point(t, 0), spindle::InputError);
  const auto u = study(std::string(kBase) + "[sweep]\n\"cluster.colour\" = [\"red\"]\n");
  EXPECT_THROW(spindle::load_point(u, 0), spindle::InputError);  // unknown keys stay errors
}

}  // namespace
