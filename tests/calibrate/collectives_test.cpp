// spindle-calibrate --collectives under mpirun (label mpi; 2 oversubscribed ranks): the MPI
// communicator's all-reduce, all-gather, reduce-scatter and send/recv at nccl-tests' sizes land
// in the profile's collective table with the group's shape, a second run into the same profile
// replaces its rows (operators measured before stay), 3 ranks round sizes to whole floats, an
// --out that is no profile is refused by every rank, and without mpirun it exits 2 with one line.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <string>
#include <sys/wait.h>

#include "traces/atomic_file.h"
#include "traces/profile.h"

namespace {

namespace fs = std::filesystem;

int shell(const std::string& cmd) { return WEXITSTATUS(std::system(cmd.c_str())); }

std::string mpirun(int ranks) {
  return std::string(SPINDLE_MPIEXEC) + " --oversubscribe --allow-run-as-root --mca btl_vader_single_copy_mechanism none -np " +
         std::to_string(ranks) + " " + SPINDLE_CALIBRATE + " ";
}

TEST(CalibrateCollectives, MpiRanksFillTheProfilesCollectiveTable) {
  const fs::path dir = fs::temp_directory_path() / ("spindle-calibrate-coll-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string out = (dir / "p.h5").string(), log = " > " + (dir / "out").string() + " 2> " + (dir / "err").string();
  // Operators first (a tiny scenario, few repeats), then the collectives into the same file.
  ASSERT_EQ(shell(std::string(SPINDLE_CALIBRATE) + " " + SPINDLE_SOURCE_DIR +
                  "/scenarios/clusters/cpu-host-2core.toml --repeats 1 --warmup 0 --out " + out + log),
            0)
      << spindle::read_file(dir / "err");
  const std::string args = "--collectives --max-bytes 65536 --warmup 1 --repeats 2 --out " + out;
  ASSERT_EQ(shell(mpirun(2) + args + log), 0) << spindle::read_file(dir / "err");
  EXPECT_THAT(spindle::read_file(dir / "out"), ::testing::HasSubstr("collectives over 2 ranks (1 node(s)"));
  const spindle::Profile p = spindle::read_profile(out);
  EXPECT_FALSE(p.ops.empty());  // the operators measured before stay
  std::set<std::string> kinds;
  for (const spindle::CollectiveMeasurement& m : p.collectives) {
    kinds.insert(m.kind);
    EXPECT_EQ(m.ranks, 2);
    EXPECT_EQ(m.nodes, 1);
    EXPECT_EQ(m.ranks_per_node, 2);
    EXPECT_EQ(m.samples, 2);
    EXPECT_GT(m.time_ms, 0) << m.kind << " " << m.bytes;
    EXPECT_LT(m.time_ms, 1000) << m.kind << " " << m.bytes;
    EXPECT_GE(m.bytes, 8);
    EXPECT_LE(m.bytes, 65536);
  }
  EXPECT_EQ(kinds, (std::set<std::string>{"all_gather", "all_reduce", "broadcast", "reduce_scatter", "send_recv"}));
  EXPECT_EQ(p.collectives.size(), 5u * 14u);  // 8 B .. 64 KiB: 14 sizes
  // Again into the same profile: the rows are replaced, not added.
  ASSERT_EQ(shell(mpirun(2) + args + log), 0) << spindle::read_file(dir / "err");
  EXPECT_EQ(spindle::read_profile(out).collectives.size(), 5u * 14u);
  // Three ranks: sizes rounded down to whole floats on every rank (12 B .. 1020 B).
  const std::string three = (dir / "three.h5").string();
  ASSERT_EQ(shell(mpirun(3) + "--collectives --max-bytes 1024 --warmup 0 --repeats 1 --out " + three + log), 0)
      << spindle::read_file(dir / "err");
  const spindle::Profile p3 = spindle::read_profile(three);
  EXPECT_EQ(p3.collectives.size(), 5u * 7u);
  for (const spindle::CollectiveMeasurement& m : p3.collectives) {
    EXPECT_EQ(m.ranks, 3);
    EXPECT_EQ(m.bytes % 12, 0) << m.bytes;
  }
  // An --out that is not a profile: every rank refuses it before measuring (none waits).
  const std::string junk = (dir / "junk.h5").string();
  spindle::write_file_atomically(junk, "not a profile");
  EXPECT_EQ(shell("timeout 60 " + mpirun(2) + "--collectives --max-bytes 64 --out " + junk + log), 2);
  EXPECT_THAT(spindle::read_file(dir / "err"), ::testing::HasSubstr(junk));
  EXPECT_EQ(spindle::read_file(junk), "not a profile");
  // One process: nothing to measure, exit 2 with one line, no file.
  const std::string lone = (dir / "lone.h5").string();
  EXPECT_EQ(shell(std::string(SPINDLE_CALIBRATE) + " --collectives --out " + lone + log), 2);
  const std::string err = spindle::read_file(dir / "err");
  EXPECT_THAT(err, ::testing::HasSubstr("--collectives: not started by mpirun or srun"));
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
  EXPECT_FALSE(fs::exists(lone));
  fs::remove_all(dir);
}

}  // namespace
