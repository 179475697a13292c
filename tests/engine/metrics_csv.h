// The loss column of a spindle-run --metrics file (step,task,loss,step_s), row by row: what the
// command-line tests compare between runs.
#pragma once

#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "traces/atomic_file.h"

namespace spindle::testing {

inline std::vector<double> metrics_losses(const std::filesystem::path& csv) {
  std::vector<double> v;
  std::istringstream in(spindle::read_file(csv));
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    const size_t b = line.find(',', line.find(',') + 1), e = line.rfind(',');
    v.push_back(std::stod(line.substr(b + 1, e - b - 1)));
  }
  return v;
}

}  // namespace spindle::testing
