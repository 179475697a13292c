// Plain-text tables for terminal reports: columns sized to their widest cell, numbers
// right-aligned, plus the number formats every report shares (so outputs stay comparable).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace spindle {

class TextTable {
 public:
  enum class Align { kLeft, kRight };
  void add_column(std::string header, Align align);
  void add_row(std::vector<std::string> cells);
  // Renders with `indent` spaces before each line and two spaces between columns.
  std::string render(int indent = 2) const;

 private:
  std::vector<std::string> headers_;
  std::vector<Align> aligns_;
  std::vector<std::vector<std::string>> rows_;
};

std::string with_commas(std::int64_t n);            // 1234567 -> "1,234,567"
std::string fixed(double x, int decimals);           // locale-independent "%.*f"
std::string exact(double x);                         // shortest text that reads back to the same double
std::string billions(std::int64_t n);               // 1234567890 -> "1.235 B"

}  // namespace spindle
