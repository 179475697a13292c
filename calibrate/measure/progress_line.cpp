// The progress line (see progress_line.h).
#include "calibrate/measure/progress_line.h"

#include <cstdio>

namespace spindle::calibrate {
namespace {

std::string seconds(double s) {
  char buf[32];
  if (s < 120) std::snprintf(buf, sizeof buf, "%.0f s", s);
  else std::snprintf(buf, sizeof buf, "%.0f min", s / 60);
  return buf;
}

}  // namespace

ProgressLine::ProgressLine(std::ostream& err, int total, bool terminal)
    : err_(err), total_(total), terminal_(terminal), start_(std::chrono::steady_clock::now()) {}

void ProgressLine::update(int done, const std::string& what) {
  const int tenth = total_ > 0 ? done * 10 / total_ : 10;
  if (!terminal_ && tenth == last_tenth_) return;
  last_tenth_ = tenth;
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const std::string eta = done > 0 ? seconds(elapsed / done * (total_ - done)) : "?";
  std::string line = "[" + std::to_string(done) + "/" + std::to_string(total_) + "] " + seconds(elapsed) +
                     " elapsed, ETA " + eta + "  " + what;
  if (terminal_) {
    if (line.size() > 118) line = line.substr(0, 115) + "...";
    err_ << "\r\x1b[K" << line << std::flush;
  } else {
    err_ << line << "\n";
  }
}

void ProgressLine::finish(int done) {
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  err_ << (terminal_ ? "\r\x1b[K" : "") << "[" << done << "/" << total_ << "] done in " << seconds(elapsed) << "\n";
}

}  // namespace spindle::calibrate
