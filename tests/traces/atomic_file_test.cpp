// Crash-safe writing: the temporaries of killed writers on this host are removed by the next
// write of the same file; live writers', other hosts' and other files' are left alone. And
// names and messages: the rule for names, control characters spelt out in errors.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "traces/atomic_file.h"
#include "traces/errors.h"
#include "traces/names.h"

namespace spindle {
namespace {

namespace fs = std::filesystem;

TEST(AtomicFile, StaleTemporariesOfDeadWritersAreRemoved) {
  const fs::path dir = fs::temp_directory_path() / ("spindle-atomic-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const fs::path target = dir / "checkpoint.bin";
  // A process that has exited: its pid is dead (reaped) on this host.
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ASSERT_GT(child, 0);
  ::waitpid(child, nullptr, 0);
  const std::string ours = temporary_for(target).filename().string();  // checkpoint.bin.tmp.<host>.<our pid>
  const std::string suffix = ours.substr(std::string("checkpoint.bin").size());
  const std::string tmp_host = suffix.substr(0, suffix.rfind('.') + 1);  // ".tmp.<host>."
  ASSERT_EQ(tmp_host.rfind(".tmp.", 0), 0u) << ours;
  const fs::path stale = dir / ("checkpoint.bin" + tmp_host + std::to_string(child));
  const fs::path live = dir / ("checkpoint.bin" + tmp_host + std::to_string(::getppid()));
  const fs::path other_host = dir / ("checkpoint.bin.tmp.elsewhere." + std::to_string(child));
  const fs::path other_file = dir / ("other.bin" + tmp_host + std::to_string(child));
  for (const fs::path& p : {stale, live, other_host, other_file}) write_file_atomically(p, "x");
  write_file_atomically(target, "data");
  EXPECT_FALSE(fs::exists(stale));
  EXPECT_TRUE(fs::exists(live));
  EXPECT_TRUE(fs::exists(other_host));
  EXPECT_TRUE(fs::exists(other_file));
  EXPECT_EQ(read_file(target), "data");
  fs::remove_all(dir);
}

TEST(Names, RuleAndPrintableMessages) {
  EXPECT_EQ(name_problem("text-audio"), "");
  EXPECT_EQ(name_problem(""), "is empty");
  EXPECT_EQ(name_problem(".."), "is a folder name");
  EXPECT_EQ(name_problem("a/b"), "holds a path separator");
  EXPECT_EQ(name_problem("a\\b"), "holds a path separator");
  EXPECT_EQ(name_problem(std::string("a\0b", 3)), "holds a control character");
  EXPECT_EQ(name_problem(std::string(65, 'x')), "is 65 bytes long");
  EXPECT_EQ(name_problem("vidéo"), "");  // UTF-8 is fine
  EXPECT_STREQ(InputError(std::string("f: 'a\0b\nc'", 10)).what(), "f: 'a\\x00b\\x0ac'");
}

}  // namespace
}  // namespace spindle
