// Name rules and printable messages (see names.h).
#include "traces/names.h"

#include <cstdio>

namespace spindle {

std::string name_problem(std::string_view name) {
  if (name.empty()) return "is empty";
  if (name.size() > kMaxNameBytes) return "is " + std::to_string(name.size()) + " bytes long";
  if (name == "." || name == "..") return "is a folder name";
  for (char ch : name) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (c == '/' || c == '\\') return "holds a path separator";
    if (c < 0x20 || c == 0x7f) return "holds a control character";
  }
  return "";
}

std::string printable(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char ch : text) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += ch;
    }
  }
  return out;
}

}  // namespace spindle
