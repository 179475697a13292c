// Study runner: validate, run points as child processes, report (see study_runner.h).
#include "sim/study/study_runner.h"

#include <fcntl.h>
#include <csignal>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>
#include <optional>
#include <nlohmann/json.hpp>
#include <thread>

#include "planner/config/toml_reader.h"
#include "planner/cost/cost_model.h"
#include "planner/graph/graph_builder.h"
#include "planner/graph/metagraph.h"
#include "sim/report/html_report.h"
#include "sim/study/progress.h"
#include "traces/atomic_file.h"
#include "traces/errors.h"

namespace spindle {
namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;

volatile std::sig_atomic_t g_interrupted = 0;
extern "C" void on_interrupt(int) { g_interrupted = 1; }

std::string points_json(const Study& st, const std::string& paper_file) {
  nlohmann::ordered_json j;
  j["study"] = st.name;
  j["title"] = st.title;
  j["file"] = st.file;
  j["paper_speedups"] = paper_file;
  j["keys"] = st.keys;
  j["x"] = st.x_key;
  j["points"] = nlohmann::ordered_json::array();
  for (const SweepPoint& p : st.points) {
    nlohmann::ordered_json coords = nlohmann::ordered_json::array();
    for (const SweepCoord& c : p.coords) {
      nlohmann::ordered_json e = {{"key", c.key}, {"value", c.text}};
      if (c.value.type() == config::Value::Type::kInteger) e["number"] = c.value.integer();
      else if (c.value.type() == config::Value::Type::kFloat) e["number"] = c.value.floating();
      coords.push_back(e);
    }
    j["points"].push_back({{"index", p.index}, {"slug", p.slug()}, {"label", p.label()}, {"coords", coords}});
  }
  return j.dump(2) + "\n";
}

// What a point's results depend on: the study file, every file its scenario read (extends
// chain, presets, GPU file), the --set overrides and the flags its run gets. Written into the
// point's `done` file; --resume skips a point only when they are unchanged.
std::string fingerprint(const Study& st, int index, const config::ReadLog& log, const LoadOptions& load,
                        const std::vector<std::string>& pass) {
  std::uint64_t h = 1469598103934665603ull;  // FNV-1a, 64 bits
  auto mix = [&](const std::string& text) {
    for (unsigned char c : text) h = (h ^ c) * 1099511628211ull;
    h = (h ^ 0xffu) * 1099511628211ull;  // a separator no text byte sequence can fake
  };
  mix(point_scenario_text(st, index));
  for (const auto& [path, text] : log.files()) {
    mix(path);
    mix(text);
  }
  for (const std::string& set : load.overrides) mix("--set " + set);
  for (const std::string& arg : pass) mix(arg);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return std::string("inputs ") + buf + "\n";
}

// One point loads as a scenario and its MetaOps fit in memory: its input fingerprint, taken
// from the same load. A bad point is an InputError naming its index and coordinates.
std::string check_point(const Study& st, const SweepPoint& p, const LoadOptions& load, const std::vector<std::string>& pass) {
  config::ReadLog log;
  const Scenario s = load_point(st, p.index, load);
  try {
    const Graph g = build_graph(s);
    const MetaGraph mg = contract(g);
    const CostModel cost(s, g, mg);
  } catch (const InputError& e) {
    throw InputError(st.file + ": sweep point " + std::to_string(p.index) + " (" + p.label() + "): " + e.what());
  }
  return fingerprint(st, p.index, log, load, pass);
}

std::string last_line(const fs::path& file) {
  std::error_code ec;
  if (!fs::is_regular_file(file, ec)) return "";
  std::string t = read_file(file);
  while (!t.empty() && t.back() == '\n') t.pop_back();
  const size_t nl = t.rfind('\n');
  return nl == std::string::npos ? t : t.substr(nl + 1);
}

pid_t spawn(const std::vector<std::string>& args, const fs::path& out, const fs::path& err) {
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) throw IoError("fork failed for a study point");
  if (pid == 0) {
    ::setpgid(0, 0);  // its own process group: stopping a point also stops its simulation children
    const int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (o < 0 || e < 0 || ::dup2(o, 1) < 0 || ::dup2(e, 2) < 0) _exit(126);
    ::execv(argv[0], argv.data());
    _exit(127);
  }
  ::setpgid(pid, pid);  // also here, so the group exists before the parent may signal it
  return pid;
}

}  // namespace

void parse_shard(const std::string& text, int& shard, int& shards) {
  const size_t slash = text.find('/');
  char* end = nullptr;
  bool ok = slash != std::string::npos && slash > 0;
  long i = 0, n = 0;
  if (ok) {
    i = std::strtol(text.c_str(), &end, 10);
    ok = end == text.c_str() + slash;
  }
  if (ok) {
    n = std::strtol(text.c_str() + slash + 1, &end, 10);
    ok = *end == '\0' && end != text.c_str() + slash + 1 && n >= 1 && n <= 100000 && i >= 0 && i < n;
  }
  if (!ok)
    throw InputError("--shard " + text + ": expected I/N with 0 <= I < N; allowed: e.g. --shard 0/4 ... --shard 3/4 "
                     "(Slurm: --shard $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT with --array=0-3)");
  shard = static_cast<int>(i);
  shards = static_cast<int>(n);
}

std::string point_scenario_text(const Study& st, int index) {
  const SweepPoint& p = st.points.at(static_cast<size_t>(index));
  return "# study " + st.name + ", point " + std::to_string(index) + ": " + p.label() + "\n# study file " + st.file +
         ":\n" + read_file(st.file);
}

int run_study(const fs::path& file, const StudyOptions& o) {
  const Study st = read_study_file(file);
  LoadOptions load;
  load.overrides = o.sets;
  // A small study checks every point before any runs, so a bad point is one line and nothing
  // ran. A large one (the check costs about 1 ms a point: a minute for 90,000) says at once how
  // many points it has and starts them streaming, each checked as it starts: a bad point stops
  // the launches, the running points finish and are kept, and the study ends with its line.
  constexpr size_t kStreamFrom = 1000;
  const bool streaming = st.points.size() >= kStreamFrom;
  std::vector<std::string> inputs(st.points.size());  // fingerprint per point, once checked
  if (streaming)
    std::cerr << "study " << st.name << ": " << st.points.size()
              << " points; each is checked as it starts (a bad one stops the study, the finished ones are kept)\n";
  else
    for (const SweepPoint& p : st.points) inputs[static_cast<size_t>(p.index)] = check_point(st, p, load, o.pass);
  const fs::path dir = o.out_dir.empty() ? fs::path("out") / st.name : fs::path(o.out_dir);
  fs::create_directories(dir / "points");
  write_file_atomically(dir / "study.toml", read_file(file));
  std::string paper_file;
  if (!st.paper_speedups.empty()) {
    const fs::path src = file.parent_path() / st.paper_speedups;
    std::error_code ec;
    if (!fs::is_regular_file(src, ec))
      throw InputError(file.string() + ": study.paper_speedups: no such file '" + src.string() +
                       "'; allowed: a data file relative to the study file");
    check_paper_speedups(src);
    paper_file = "paper-speedups.toml";
    write_file_atomically(dir / paper_file, read_file(src));
  }
  write_file_atomically(dir / "points.json", points_json(st, paper_file));

  // --resume: a point whose `done` holds its inputs' fingerprint is skipped; one done with other
  // inputs runs again. Streaming, that is decided as each point comes up.
  std::vector<int> todo;
  int skipped = 0, stale = 0;
  auto already_done = [&](const SweepPoint& p) {
    std::error_code ec;
    const fs::path done = dir / "points" / p.slug() / "done";
    if (!o.resume || !fs::is_regular_file(done, ec)) return false;
    if (read_file(done) == inputs[static_cast<size_t>(p.index)]) return true;
    ++stale;  // finished with other inputs: run again
    return false;
  };
  for (const SweepPoint& p : st.points) {
    if (p.index % o.shards != o.shard) continue;
    if (!streaming && already_done(p)) {
      ++skipped;
      continue;
    }
    todo.push_back(p.index);
  }
  const int jobs = o.jobs > 0 ? o.jobs : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  std::cerr << "study " << st.name << ": " << st.points.size() << " points";
  if (o.shards > 1) std::cerr << ", shard " << o.shard << "/" << o.shards;
  if (o.resume && !streaming) std::cerr << ", " << skipped << " already done";
  if (stale > 0) std::cerr << ", " << stale << " done with other inputs (run again)";
  std::cerr << "; running " << (streaming && o.resume ? "up to " : "") << todo.size() << ", " << jobs
            << " at a time, into " << dir.string() << "\n";

  const std::string self = fs::read_symlink("/proc/self/exe").string();
  Progress progress(stderr, ::isatty(2) != 0, static_cast<int>(todo.size()));
  struct Running {
    int index;
    Clock::time_point start;
  };
  std::map<pid_t, Running> running;
  std::vector<int> failed;
  size_t next = 0;
  // Ctrl-C (or a scheduler's SIGTERM): stop the running points, keep the finished ones.
  struct sigaction act {};
  act.sa_handler = on_interrupt;
  struct sigaction old_int {}, old_term {};
  sigaction(SIGINT, &act, &old_int);
  sigaction(SIGTERM, &act, &old_term);
  int finished = 0;
  std::optional<InputError> bad_point;  // streaming: the first point that failed its check
  while ((next < todo.size() || !running.empty()) && !g_interrupted) {
    while (next < todo.size() && static_cast<int>(running.size()) < jobs) {
      const SweepPoint& p = st.points[static_cast<size_t>(todo[next++])];
      if (streaming) {
        try {
          inputs[static_cast<size_t>(p.index)] = check_point(st, p, load, o.pass);
        } catch (const InputError& e) {
          bad_point = e;
          next = todo.size();  // launch nothing more; the running points finish
          break;
        }
        if (already_done(p)) {
          ++skipped;
          progress.skipped();
          continue;
        }
      }
      const fs::path pdir = dir / "points" / p.slug();
      fs::create_directories(pdir);
      fs::remove(pdir / "done");
      std::vector<std::string> args = {self, file.string(), "--point", std::to_string(p.index), "--out", pdir.string()};
      for (const std::string& s : o.sets) args.insert(args.end(), {"--set", s});
      args.insert(args.end(), o.pass.begin(), o.pass.end());
      running[spawn(args, pdir / "stdout.txt", pdir / "stderr.txt")] = Running{p.index, Clock::now()};
      progress.started(static_cast<int>(running.size()));
    }
    if (running.empty()) continue;  // every point left was skipped, or a bad one stopped the launches
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid == 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
      progress.tick(static_cast<int>(running.size()));
      continue;
    }
    if (pid < 0) throw InternalError("waitpid failed while study points ran");
    auto it = running.find(pid);
    if (it == running.end()) continue;
    const SweepPoint& p = st.points[static_cast<size_t>(it->second.index)];
    const double secs = std::chrono::duration<double>(Clock::now() - it->second.start).count();
    const bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (ok) {
      write_file_atomically(dir / "points" / p.slug() / "done", inputs[static_cast<size_t>(p.index)]);
      ++finished;
    } else {
      failed.push_back(p.index);
    }
    running.erase(it);
    progress.finished("point " + std::to_string(p.index) + " (" + p.label() + ")", ok, secs,
                      static_cast<int>(running.size()));
  }
  if (g_interrupted) {
    for (const auto& [pid, r] : running) ::kill(-pid, SIGTERM);  // the point and its children
    for (const auto& [pid, r] : running) ::waitpid(pid, nullptr, 0);
    progress.done();
    std::cerr << "interrupted: " << (skipped + finished) << " finished points are kept in " << (dir / "points").string()
              << "; run the same command with --resume to run the other "
              << (todo.size() - static_cast<size_t>(finished)) << "\n";
    sigaction(SIGINT, &old_int, nullptr);
    sigaction(SIGTERM, &old_term, nullptr);
    return 130;
  }
  sigaction(SIGINT, &old_int, nullptr);
  sigaction(SIGTERM, &old_term, nullptr);
  progress.done();
  std::sort(failed.begin(), failed.end());
  for (int i : failed) {
    const SweepPoint& p = st.points[static_cast<size_t>(i)];
    const fs::path pdir = dir / "points" / p.slug();
    std::cerr << "point " << i << " (" << p.label() << ") failed: " << last_line(pdir / "stderr.txt") << " (see "
              << (pdir / "stderr.txt").string() << ")\n";
  }
  if (bad_point) {
    std::cerr << (skipped + finished) << " finished points are kept in " << (dir / "points").string()
              << "; once the point below is fixed, run the same command with --resume\n";
    throw *bad_point;
  }
  if (o.shards > 1) {
    std::cout << "shard " << o.shard << "/" << o.shards << " finished; once every shard is done: spindle-sim report "
              << dir.string() << "\n";
  } else {
    const StudyReport report = write_study_report(dir);  // written before anything is printed
    std::cout << report.points_table << "Report: " << report.index.string() << "\n";
  }
  return failed.empty() ? 0 : 1;
}

}  // namespace spindle
