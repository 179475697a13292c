// Test helpers (see test_scenarios.h).
#include "test_scenarios.h"

#include <algorithm>
#include <filesystem>
#include <sstream>

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

std::vector<std::string> zoo_files() {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(default_data_dir()))
    if (e.path().extension() == ".toml") out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

LevelItem level_item(int id, int L, const ScalingCurve& c) {
  LevelItem it;
  it.metaop = id;
  it.L = L;
  it.curve = &c;
  for (const CurvePoint& p : c.points()) it.valid_n.push_back(p.n);
  return it;
}

}  // namespace spindle::testing
