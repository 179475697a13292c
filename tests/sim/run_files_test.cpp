// The files of a simulation run: the same inputs give byte-identical files (every file but
// timing.json, which alone holds wall-clock figures), results.csv has a row per system and
// results.h5 has the layout the README documents (checked with h5dump from hdf5-tools).
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <string>

#include "traces/atomic_file.h"

namespace {

namespace fs = std::filesystem;

int run(const std::string& cmd) { return std::system(cmd.c_str()); }

std::map<std::string, std::string> files_of(const fs::path& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out[e.path().filename().string()] = spindle::read_file(e.path());
  return out;
}

std::string output_of(const std::string& cmd, const fs::path& file) {
  run(cmd + " >'" + file.string() + "' 2>&1");
  return spindle::read_file(file);
}

class RunFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("spindle-run-files-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::map<std::string, std::string> simulate() {
    const std::string cmd = "cd '" SPINDLE_SOURCE_DIR "' && '" SPINDLE_SIM "' scenarios/ofasys-4.toml --set cluster.nodes=2 --out '" +
                            (dir_ / "out").string() + "' >/dev/null";
    EXPECT_EQ(run(cmd), 0);
    return files_of(dir_ / "out");
  }
  fs::path dir_;
};

TEST_F(RunFiles, SameInputsGiveTheSameBytesExceptTiming) {
  const auto a = simulate(), b = simulate();
  ASSERT_EQ(a.size(), b.size());
  for (const char* name : {"summary.txt", "summary.json", "results.csv", "results.h5", "spindle.trace.json",
                           "spindle.plan.json", "timing.json"})
    EXPECT_TRUE(a.count(name)) << name;
  for (const auto& [name, bytes] : a) {
    if (name == "timing.json") continue;
    EXPECT_TRUE(b.at(name) == bytes) << name << " differs between two runs of the same inputs";
  }
  EXPECT_NE(a.at("timing.json").find("\"planning_s\""), std::string::npos);
  EXPECT_NE(a.at("timing.json").find("\"simulation_s\""), std::string::npos);
  EXPECT_NE(a.at("summary.json").find("\"planning_s\": null"), std::string::npos);
  for (const auto& [name, bytes] : a)
    EXPECT_EQ(name.find(".tmp"), std::string::npos) << "temporary file left behind: " << name;
}

TEST_F(RunFiles, CsvHasOneRowPerSystem) {
  const std::string csv = simulate().at("results.csv");
  EXPECT_EQ(csv.rfind("system,planned_s,simulated_s,", 0), 0u);
  int rows = 0;
  for (char c : csv) rows += c == '\n';
  EXPECT_EQ(rows, 1 + 6);  // five systems and the placement ablation
  EXPECT_NE(csv.find("\nspindle.sequential-placement,"), std::string::npos);
}

TEST_F(RunFiles, Hdf5HoldsScenarioSummaryAndBusyIntervals) {
  if (run("command -v h5dump >/dev/null 2>&1") != 0) GTEST_SKIP() << "h5dump (hdf5-tools) not installed";
  simulate();
  const std::string h5 = (dir_ / "out" / "results.h5").string();
  const std::string scenario = output_of("h5dump -d /scenario '" + h5 + "'", dir_ / "a.txt");
  EXPECT_NE(scenario.find("name = \"ofasys-4\""), std::string::npos) << scenario.substr(0, 400);
  EXPECT_NE(scenario.find("--set cluster.nodes=2"), std::string::npos);
  const std::string summary = output_of("h5dump -d /summary '" + h5 + "'", dir_ / "s.txt");
  EXPECT_NE(summary.find("\"spindle-paper\""), std::string::npos);
  EXPECT_NE(summary.find("H5T_IEEE_F64LE \"simulated_s\""), std::string::npos);
  const std::string busy = output_of("h5dump -H -d /busy/spindle '" + h5 + "'", dir_ / "b.txt");
  EXPECT_NE(busy.find("H5T_STD_I32LE \"kind\""), std::string::npos) << busy;
  // No object carries a modification time (it would change the bytes from run to run).
  const std::string props = output_of("h5dump -p -H '" + h5 + "'", dir_ / "p.txt");
  EXPECT_EQ(props.find("MODIFICATION_TIME"), std::string::npos);
}

}  // namespace
