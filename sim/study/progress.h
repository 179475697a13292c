// Progress of a study on stderr: on a terminal one bar redrawn in place ("[####....] 5/17
// points, 2 running, 1m02s, ETA 2m10s"); otherwise (a log, CI, a pipe) one plain line per
// finished point. The ETA is the elapsed time per finished point (which reflects the points
// running at once) times the points left.
#pragma once

#include <chrono>
#include <cstdio>
#include <string>

namespace spindle {

class Progress {
 public:
  // `tty`: draw the bar (else plain lines); `total`: points to run.
  Progress(std::FILE* out, bool tty, int total);
  void started(int running);
  void finished(const std::string& what, bool ok, double seconds, int running);
  void skipped();          // a point found already done once the run began: one fewer to run
  void tick(int running);  // redraws the bar (elapsed time) on a terminal; nothing otherwise
  void done();             // ends the bar's line
  static std::string duration(double seconds);  // "45s", "3m07s", "1h02m"

 private:
  std::string eta() const;
  void draw(int running);

  std::FILE* out_;
  bool tty_;
  int total_, done_ = 0, failed_ = 0;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace spindle
