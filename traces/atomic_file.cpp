// Temporary-file-then-rename writing (POSIX), and whole-file reading.
#include "traces/atomic_file.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "traces/errors.h"

namespace spindle {
namespace {

[[noreturn]] void fail(const std::filesystem::path& path, const std::string& what, int err) {
  throw IoError(path.string() + ": " + what + ": " + std::strerror(err));
}

std::string host_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0 || buf[0] == 0) return "host";
  std::string h(buf);
  for (char& c : h)
    if (c == '.' || c == '/') c = '_';
  return h;
}

// Whether no process `pid` runs on this host.
bool dead(long pid) { return pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH; }

}  // namespace

std::filesystem::path temporary_for(const std::filesystem::path& path) {
  const std::string host = host_name();
  const std::string prefix = path.filename().string() + ".tmp." + host + ".";
  const std::filesystem::path dir = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  std::error_code ec;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) continue;
    const std::string digits = name.substr(prefix.size());
    if (digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string::npos) continue;
    std::error_code ignored;
    if (it->is_regular_file(ignored) && dead(std::stol(digits))) std::filesystem::remove(it->path(), ignored);
  }
  return std::filesystem::path(path.string() + ".tmp." + host + "." + std::to_string(::getpid()));
}

void write_file_atomically(const std::filesystem::path& path, std::string_view content) {
  std::error_code ec;
  if (path.has_parent_path()) {
    std::filesystem::create_directories(path.parent_path(), ec);
    if (ec) throw IoError(path.parent_path().string() + ": cannot create directory: " + ec.message());
  }
  const std::string tmp = temporary_for(path).string();
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fail(tmp, "cannot create", errno);
  const char* data = content.data();
  size_t left = content.size();
  while (left > 0) {
    ssize_t n = ::write(fd, data, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      fail(tmp, "cannot write", err);
    }
    data += n;
    left -= static_cast<size_t>(n);
  }
  const bool synced = ::fsync(fd) == 0;
  int flush_err = errno;
  const bool closed = ::close(fd) == 0;
  if (!synced || !closed) {
    if (synced) flush_err = errno;
    ::unlink(tmp.c_str());
    fail(tmp, "cannot flush", flush_err);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    fail(path, "cannot rename temporary file into place", err);
  }
}

std::string read_file(const std::filesystem::path& path) {
  errno = 0;
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(path.string() + ": cannot open" + (errno ? std::string(": ") + std::strerror(errno) : ""));
  std::ostringstream buf;
  buf << in.rdbuf();
  if (in.bad()) throw IoError(path.string() + ": cannot read");
  return buf.str();
}

}  // namespace spindle
