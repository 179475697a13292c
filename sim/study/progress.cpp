// Study progress output (see progress.h).
#include "sim/study/progress.h"

#include <algorithm>
#include <cmath>

namespace spindle {

Progress::Progress(std::FILE* out, bool tty, int total)
    : out_(out), tty_(tty), total_(total), start_(std::chrono::steady_clock::now()) {}

std::string Progress::duration(double seconds) {
  const long s = std::lround(std::max(0.0, seconds));
  char buf[32];
  if (seconds < 9.95) std::snprintf(buf, sizeof buf, "%.1fs", std::max(0.0, seconds));
  else if (s < 60) std::snprintf(buf, sizeof buf, "%lds", s);
  else if (s < 3600) std::snprintf(buf, sizeof buf, "%ldm%02lds", s / 60, s % 60);
  else std::snprintf(buf, sizeof buf, "%ldh%02ldm", s / 3600, (s % 3600) / 60);
  return buf;
}

std::string Progress::eta() const {
  if (done_ == 0) return "ETA -";
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  // Elapsed time per finished point already reflects the points that run at once.
  return "ETA " + duration(elapsed / done_ * (total_ - done_));
}

void Progress::draw(int running) {
  constexpr int kWidth = 30;
  const int filled = total_ > 0 ? done_ * kWidth / total_ : kWidth;
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  std::string bar(static_cast<size_t>(filled), '#');
  bar += std::string(static_cast<size_t>(kWidth - filled), '.');
  std::fprintf(out_, "\r\033[K[%s] %d/%d points, %d running%s, %s, %s", bar.c_str(), done_, total_, running,
               failed_ ? (", " + std::to_string(failed_) + " failed").c_str() : "", duration(elapsed).c_str(),
               eta().c_str());
  std::fflush(out_);
}

void Progress::started(int running) {
  if (tty_) draw(running);
}

void Progress::skipped() {
  if (total_ > 0) --total_;
}

void Progress::tick(int running) {
  if (tty_) draw(running);
}

void Progress::finished(const std::string& what, bool ok, double seconds, int running) {
  ++done_;
  if (!ok) ++failed_;
  if (tty_) {
    if (!ok) std::fprintf(out_, "\r\033[K%s FAILED after %s\n", what.c_str(), duration(seconds).c_str());
    draw(running);
    return;
  }
  std::fprintf(out_, "[%d/%d] %s %s in %s, %s\n", done_, total_, what.c_str(), ok ? "done" : "FAILED",
               duration(seconds).c_str(), eta().c_str());
  std::fflush(out_);
}

void Progress::done() {
  if (tty_) std::fprintf(out_, "\n");
  std::fflush(out_);
}

}  // namespace spindle
