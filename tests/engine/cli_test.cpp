// spindle-run as a program: a short run writes its metrics; bad flags and bad checkpoints
// exit 2 with one line.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "traces/atomic_file.h"

namespace {

int run(const std::string& args) {
  const std::string cmd = std::string(SPINDLE_RUN) + " " + args + " > /dev/null 2>&1";
  const int status = std::system(cmd.c_str());
  return WEXITSTATUS(status);
}

TEST(SpindleRunCli, RunsAndRejectsBadInput) {
  const auto dir = std::filesystem::temp_directory_path() / ("spindle-run-cli-" + std::to_string(::getpid()));
  const std::string s = std::string(SPINDLE_SOURCE_DIR) + "/scenarios/multitask-clip-4.toml";
  ASSERT_EQ(run(s + " --scale tiny --steps 2 --metrics " + (dir / "m.csv").string() + " --checkpoint " + dir.string()), 0);
  const std::string csv = spindle::read_file(dir / "m.csv");
  EXPECT_EQ(csv.rfind("step,task,loss,step_s\n1,text-audio,", 0), 0u);
  EXPECT_EQ(run(s + " --devices 2"), 2);
  EXPECT_EQ(run(s + " --backend tpu"), 2);
  EXPECT_EQ(run(s + " --scale huge"), 2);
  EXPECT_EQ(run(s + " --steps -1"), 2);
  EXPECT_EQ(run(s + " --resume"), 2);
  const std::string good = spindle::read_file(dir / "checkpoint.bin");
  spindle::write_file_atomically(dir / "checkpoint.bin", good.substr(0, good.size() - 3));
  EXPECT_EQ(run(s + " --scale tiny --steps 3 --checkpoint " + dir.string() + " --resume"), 2);
  std::filesystem::remove_all(dir);
}

}  // namespace
