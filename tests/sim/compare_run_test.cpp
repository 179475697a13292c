// compare_run(): a simulated trace against a measured one, on small traces written here with
// known times (so the errors are known), and every mismatch it must refuse with InputError.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <unistd.h>

#include "sim/report/compare_run.h"
#include "traces/atomic_file.h"
#include "traces/errors.h"

namespace spindle {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

class CompareRun : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("spindle-compare-run-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // A trace of two GPUs: each a forward and a backward slice of `ms` scaled by `f`, a receive.
  std::string trace(const std::string& name, const std::string& clock, double iteration_ms, double f,
                    const std::string& system = "spindle", const std::string& scenario = "s",
                    const std::string& programs = "00000000000000aa") const {
    json events = json::array();
    auto slice = [&](int gpu, const std::string& n, const std::string& cat, double ms, json rows) {
      events.push_back({{"name", n}, {"cat", cat}, {"ph", "X"}, {"ts", 0.0}, {"dur", ms * 1e3}, {"pid", 0}, {"tid", gpu},
                        {"args", {{"rows", rows}}}});
    };
    slice(0, "t / M0 text / layers 0-1 / fwd", "fwd", 2.0 * f, {0, 8});
    slice(0, "t / M0 text / layers 0-1 / bwd", "bwd", 4.0 * f, {0, 8});
    slice(1, "t / M0 text / layers 0-1 / fwd", "fwd", 1.0, {8, 16});
    slice(1, "t / M0 text / layers 0-1 / bwd", "bwd", 2.0, {8, 16});
    slice(1, "recv tensor 0 from GPU 0", "transfer", 0.5 * f, json::array());
    events.push_back({{"name", "thread_name"}, {"ph", "M"}, {"pid", 0}, {"tid", 0}, {"args", {{"name", "GPU 0"}}}});
    const json j = {{"traceEvents", events},
                    {"otherData",
                     {{"system", system}, {"scenario", scenario}, {"programs", programs}, {clock + "_ms", iteration_ms}}}};
    const fs::path p = dir_ / name;
    write_file_atomically(p, j.dump());
    return p.string();
  }
  fs::path dir_;
};

TEST_F(CompareRun, ErrorsPerKindAndSliceFromTheTwoTraces) {
  const RunComparison c = compare_run(trace("sim.json", "simulated", 12.0, 1.0), trace("run.json", "measured", 10.0, 2.0));
  EXPECT_DOUBLE_EQ(c.simulated_ms, 12.0);
  EXPECT_DOUBLE_EQ(c.measured_ms, 10.0);
  ASSERT_EQ(c.kinds.size(), 5u);
  EXPECT_EQ(c.kinds[0], "fwd");
  EXPECT_NEAR(c.kind_simulated_ms[0], 3.0, 1e-12);  // 2 + 1
  EXPECT_NEAR(c.kind_measured_ms[0], 5.0, 1e-12);   // 4 + 1
  EXPECT_NEAR(c.kind_simulated_ms[2], 0.5, 1e-12);  // transfer
  EXPECT_NEAR(c.kind_measured_ms[2], 1.0, 1e-12);
  ASSERT_EQ(c.slices.size(), 4u);  // compute slices only
  // GPU 0's slices were measured twice as long: -50%; GPU 1's equal: 0.
  EXPECT_NEAR(c.slices[0].error(), -0.5, 1e-12);
  EXPECT_NEAR(c.slices[3].error(), 0.0, 1e-12);
  EXPECT_NEAR(c.median_abs_slice_error(), 0.25, 1e-12);
  ASSERT_NE(c.worst_slice(), nullptr);
  EXPECT_EQ(c.worst_slice()->gpu, 0);
  const std::string text = compare_run_text(c);
  EXPECT_NE(text.find("error +20.0%"), std::string::npos) << text;  // iteration 12 against 10
  EXPECT_NE(text.find("median |error| 25.0%, worst -50.0%"), std::string::npos) << text;
}

TEST_F(CompareRun, RefusesTracesThatDoNotMatch) {
  const std::string sim = trace("sim.json", "simulated", 12.0, 1.0), run = trace("run.json", "measured", 10.0, 1.0);
  EXPECT_THROW(compare_run(run, sim), InputError);  // the sides swapped
  // Another system's run is a plan of other slices, found out by the slices (here the same).
  EXPECT_NE(compare_run(sim, trace("other.json", "measured", 10.0, 1.0, "plan.json")).system.find("run: plan.json"),
            std::string::npos);
  EXPECT_THROW(compare_run(sim, (dir_ / "missing.json").string()), InputError);
  write_file_atomically(dir_ / "bad.json", "{not json");
  EXPECT_THROW(compare_run(sim, (dir_ / "bad.json").string()), InputError);
  EXPECT_THROW(compare_run(sim, trace("o2.json", "measured", 10.0, 1.0, "spindle", "another")), InputError);
  // A run with a slice the simulation lacks (another plan).
  json j = json::parse(read_file(run));
  j["traceEvents"].push_back({{"name", "t / M1 x / layers 0-0 / fwd"}, {"cat", "fwd"}, {"ph", "X"}, {"ts", 0.0},
                              {"dur", 1.0}, {"pid", 0}, {"tid", 0}});
  write_file_atomically(dir_ / "extra.json", j.dump());
  EXPECT_THROW(compare_run(sim, (dir_ / "extra.json").string()), InputError);
  // A run of other programs (its trace's fingerprint differs), even with slices of the same names.
  try {
    compare_run(sim, trace("p2.json", "measured", 10.0, 1.0, "spindle", "s", "00000000000000bb"));
    ADD_FAILURE() << "other programs compared";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("ran other programs than"), std::string::npos) << e.what();
  }
  // A trace without the field (written before it was recorded) is compared on its slices.
  json old = json::parse(read_file(run));
  old["otherData"].erase("programs");
  write_file_atomically(dir_ / "old.json", old.dump());
  EXPECT_NO_THROW(compare_run(sim, (dir_ / "old.json").string()));
  // A folder with :SYSTEM finds <system>.trace.json.
  fs::copy_file(sim, dir_ / "spindle.trace.json");
  EXPECT_NO_THROW(compare_run(dir_.string() + ":spindle", run));
}

}  // namespace
}  // namespace spindle
