// The project's only door to toml++: parses TOML text into the located value tree of
// config_tree.h. Syntax errors become InputError "FILE:LINE:COL: TOML syntax error: ...".
#pragma once

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "planner/config/config_tree.h"

namespace spindle::config {

// Parses a TOML file; the tree's locations name `path` as given.
Value parse_toml_file(const std::filesystem::path& path);

// While alive, records every file parse_toml_file reads on this thread (path as given, text):
// what a loaded scenario depends on (its extends chain, presets, GPU file). Nests.
class ReadLog {
 public:
  ReadLog();
  ~ReadLog();
  ReadLog(const ReadLog&) = delete;
  ReadLog& operator=(const ReadLog&) = delete;
  const std::vector<std::pair<std::string, std::string>>& files() const { return files_; }
  void add(const std::string& path, const std::string& text);

 private:
  ReadLog* outer_;
  std::vector<std::pair<std::string, std::string>> files_;
};

// Parses TOML text as if it were the file `name` (used by tests and generated scenarios).
Value parse_toml_string(const std::string& text, const std::string& name);

// Parses the VALUE of a `--set KEY=VALUE` override as a TOML value (42, 1.5, true, "x",
// [1, 2], {a = 1}); text that is not valid TOML is taken as a bare string.
Value parse_override_value(const std::string& text, const Location& loc);

}  // namespace spindle::config
