// Little-endian binary writing and bounds-checked reading for checkpoint files, and their
// FNV-1a checksum: the codec of sharded_checkpoint.h's rank files.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "traces/errors.h"

namespace spindle::engine::binary {

// Steps and data positions a checkpoint may hold (2^40: years of training at any speed).
constexpr std::uint64_t kMaxCount = std::uint64_t{1} << 40;

inline std::uint64_t fnv1a(const char* p, size_t n) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (size_t i = 0; i < n; ++i) h = (h ^ static_cast<unsigned char>(p[i])) * 0x100000001b3ULL;
  return h;
}

class Writer {
 public:
  template <class T>
  void put(T v) {
    buf_.append(reinterpret_cast<const char*>(&v), sizeof v);
  }
  void str(const std::string& s) {
    put(static_cast<std::uint32_t>(s.size()));
    buf_ += s;
  }
  void floats(const std::vector<float>& v) { buf_.append(reinterpret_cast<const char*>(v.data()), v.size() * 4); }
  std::string& bytes() { return buf_; }

 private:
  std::string buf_;
};

class Reader {
 public:
  Reader(const std::string& data, std::string file) : d_(data), file_(std::move(file)) {}
  template <class T>
  T get() {
    T v;
    need(sizeof v);
    std::memcpy(&v, d_.data() + at_, sizeof v);
    at_ += sizeof v;
    return v;
  }
  std::string str() {
    const std::uint32_t n = get<std::uint32_t>();
    need(n);
    std::string s = d_.substr(at_, n);
    at_ += n;
    return s;
  }
  void floats(std::vector<float>& v) {
    need(v.size() * 4);
    std::memcpy(v.data(), d_.data() + at_, v.size() * 4);
    at_ += v.size() * 4;
  }
  [[noreturn]] void fail(const std::string& what) const {
    throw InputError(file_ + ": " + what + "; allowed: a checkpoint spindle-run wrote for this scenario, scale and seed");
  }
  bool done() const { return at_ == d_.size(); }
  size_t left() const { return d_.size() - at_; }

 private:
  void need(size_t n) const {
    if (at_ + n > d_.size()) fail("checkpoint ends early (truncated)");
  }
  const std::string& d_;
  std::string file_;
  size_t at_ = 0;
};

}  // namespace spindle::engine::binary
