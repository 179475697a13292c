// Temporary-file-then-rename writing (POSIX), and whole-file reading.
#include "traces/atomic_file.h"

#include <fcntl.h>
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

}  // namespace

void write_file_atomically(const std::filesystem::path& path, std::string_view content) {
  std::error_code ec;
  if (path.has_parent_path()) {
    std::filesystem::create_directories(path.parent_path(), ec);
    if (ec) throw IoError(path.parent_path().string() + ": cannot create directory: " + ec.message());
  }
  std::string tmp = path.string() + ".tmp." + std::to_string(::getpid());
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
