// spindle-calibrate's progress on stderr: keys done of all, the key being measured, elapsed
// time and an ETA from the mean time per key so far. On a terminal one line redrawn in place;
// otherwise a line at every tenth of the work (logs stay short).
#pragma once

#include <chrono>
#include <ostream>
#include <string>

namespace spindle::calibrate {

class ProgressLine {
 public:
  ProgressLine(std::ostream& err, int total, bool terminal);
  // Before measuring key number `done` + 1 (`what`).
  void update(int done, const std::string& what);
  void finish(int done);

 private:
  std::ostream& err_;
  int total_;
  bool terminal_;
  int last_tenth_ = -1;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace spindle::calibrate
