// Test helpers (see test_scenarios.h).
#include "test_scenarios.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <set>
#include <sstream>
#include <unistd.h>

#include "planner/place/placement.h"
#include "traces/errors.h"

namespace spindle::testing {

std::string small_scenario() {
  return R"([scenario]
name = "t"
[cluster]
nodes = 2
gpus_per_node = 4
gpu = "a800-80gb"
intra_node = { bw_GBps = 200.0, latency_us = 2.0 }
inter_node = { bw_GBps = 50.0, latency_us = 5.0 }
[model.components.a]
kind = "encoder"
embedding = "patch"
patch_dim = 16
tokens = 10
layers = 2
hidden = 64
heads = 4
ffn = 256
[model.components.b]
kind = "encoder"
embedding = "token"
vocab = 100
tokens = 12
layers = 3
hidden = 64
heads = 4
ffn = 256
[model.components.ha]
kind = "projection"
inputs = ["a"]
hidden = 32
[model.components.hb]
kind = "projection"
inputs = ["b"]
hidden = 32
[[tasks]]
name = "ab"
components = ["a", "ha", "b", "hb"]
batch = 8
loss = "contrastive"
[[tasks]]
name = "ab2"
components = ["a", "ha", "b", "hb"]
batch = 4
loss = "contrastive"
)";
}

std::string replace_line(const std::string& text, int line, const std::string& replacement) {
  std::istringstream in(text);
  std::string out, l;
  for (int n = 1; std::getline(in, l); ++n) out += (n == line ? replacement : l) + "\n";
  return out;
}

Scenario load_text(const std::string& text, const std::vector<std::string>& overrides) {
  LoadOptions o;
  o.overrides = overrides;
  return load_scenario_text(text, "t.toml", default_data_dir(), o);
}

std::string load_error(const std::string& text, const std::vector<std::string>& overrides) {
  try {
    load_text(text, overrides);
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

std::filesystem::path unique_temp_path(const std::string& name) {
  static int counter = 0;
  return std::filesystem::temp_directory_path() /
         ("spindle-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + "-" + name);
}

std::vector<std::string> zoo_files() {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(default_data_dir()))
    if (e.path().extension() == ".toml") out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

ScalingCurve linear_curve(double a, int batch) {
  std::vector<CurvePoint> pts;
  for (int n = 1; n <= batch; ++n)
    if (batch % n == 0) pts.push_back(CurvePoint{n, a / n, a / n / 3, 2 * a / n / 3, false, 0});
  return ScalingCurve(pts, batch);
}

LevelItem level_item(int id, int L, const ScalingCurve& c) {
  LevelItem it;
  it.metaop = id;
  it.L = L;
  it.curve = &c;
  for (const CurvePoint& p : c.points()) it.valid_n.push_back(p.n);
  return it;
}

void check_placed(const Plan& p, const MetaGraph& mg, const std::string& what) {
  std::vector<std::vector<std::pair<double, double>>> busy(static_cast<size_t>(p.gpus));
  for (const Wave& w : p.waves)
    for (const Slice& sl : w.slices) {
      ASSERT_EQ(static_cast<int>(sl.devices.size()), sl.n) << what;
      std::set<int> distinct(sl.devices.begin(), sl.devices.end());
      EXPECT_EQ(static_cast<int>(distinct.size()), sl.n) << what;
      for (int d : sl.devices) {
        ASSERT_GE(d, 0);
        ASSERT_LT(d, p.gpus);
        for (auto [s0, s1] : busy[static_cast<size_t>(d)])
          EXPECT_TRUE(sl.end_s <= s0 + 1e-12 || sl.start_s >= s1 - 1e-12) << what << ": device " << d << " runs two slices";
        busy[static_cast<size_t>(d)].push_back({sl.start_s, sl.end_s});
      }
      // The TP groups' rows partition the batch; a group's ranks share its rows.
      const int batch = static_cast<int>(mg.metaops[static_cast<size_t>(sl.metaop)].shape.batch);
      ASSERT_GE(sl.tp, 1);
      ASSERT_EQ(sl.n % sl.tp, 0) << what;
      for (int k = 0; k < sl.n; ++k) {
        EXPECT_EQ(device_rows(batch, sl, k), device_rows(batch, sl, k - k % sl.tp)) << what;
      }
      int next = 0;
      for (int k = 0; k < sl.dp(); ++k) {
        auto [r0, r1] = slice_rows(batch, sl.dp(), k);
        EXPECT_EQ(r0, next);
        EXPECT_GT(r1, r0);
        next = r1;
      }
      EXPECT_EQ(next, batch) << what;
    }
}

}  // namespace spindle::testing
