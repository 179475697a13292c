// fork / waitpid pool (see process_pool.h). A child writes "ok\n" or "input\n", "internal\n",
// "error\n" and then its payload into its own temporary file and leaves with _exit, so no
// parent state (buffers, atexit handlers) runs twice.
#include "sim/replay/process_pool.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <thread>

#include "traces/atomic_file.h"
#include "traces/errors.h"

namespace spindle {
namespace fs = std::filesystem;

namespace {

[[noreturn]] void child(const std::function<std::string()>& job, const fs::path& out) {
  std::string text;
  int rc = 0;
  try {
    text = "ok\n" + job();
  } catch (const InputError& e) {
    text = std::string("input\n") + e.what();
    rc = 1;
  } catch (const InternalError& e) {
    text = std::string("internal\n") + e.what();
    rc = 1;
  } catch (const std::exception& e) {
    text = std::string("error\n") + e.what();
    rc = 1;
  }
  try {
    write_file_atomically(out, text);
  } catch (...) {
    _exit(3);
  }
  std::fflush(nullptr);
  _exit(rc);
}

}  // namespace

std::vector<std::string> run_in_children(const std::vector<std::function<std::string()>>& jobs, int parallel) {
  if (parallel <= 0) parallel = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  static int batch = 0;
  const fs::path dir = fs::temp_directory_path() /
                       ("spindle-sim-" + std::to_string(::getpid()) + "-" + std::to_string(batch++));
  fs::create_directories(dir);
  auto file = [&](size_t j) { return dir / ("job-" + std::to_string(j)); };
  std::map<pid_t, size_t> running;
  std::vector<int> status(jobs.size(), -1);
  size_t next = 0;
  std::fflush(nullptr);  // nothing buffered may be written twice
  while (next < jobs.size() || !running.empty()) {
    while (next < jobs.size() && static_cast<int>(running.size()) < parallel) {
      const pid_t pid = ::fork();
      if (pid < 0) throw IoError("fork failed for simulation job " + std::to_string(next));
      if (pid == 0) child(jobs[next], file(next));
      running[pid] = next++;
    }
    int st = 0;
    const pid_t pid = ::waitpid(-1, &st, 0);
    if (pid < 0) throw InternalError("waitpid failed while simulations ran");
    auto it = running.find(pid);
    if (it == running.end()) continue;
    status[it->second] = st;
    running.erase(it);
  }
  std::vector<std::string> out;
  for (size_t j = 0; j < jobs.size(); ++j) {
    std::string text;
    if (fs::exists(file(j))) text = read_file(file(j));
    const size_t nl = text.find('\n');
    const std::string kind = nl == std::string::npos ? "" : text.substr(0, nl);
    const std::string body = nl == std::string::npos ? "" : text.substr(nl + 1);
    if (kind == "ok" && WIFEXITED(status[j]) && WEXITSTATUS(status[j]) == 0) {
      out.push_back(body);
      continue;
    }
    fs::remove_all(dir);
    if (kind == "input") throw InputError(body);
    if (kind == "internal") throw InternalError(body);
    if (kind == "error") throw Error(body);
    throw InternalError("simulation job " + std::to_string(j) + " died (wait status " + std::to_string(status[j]) + ")");
  }
  fs::remove_all(dir);
  return out;
}

}  // namespace spindle
