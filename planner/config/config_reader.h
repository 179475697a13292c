// Strict, schema-by-code reading of one table of the config tree: every getter names the key,
// its type and range; finish() rejects any key nobody asked for. Every failure is one line
// "FILE:LINE:COL: PATH: what is wrong; allowed: ..." thrown as InputError.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "planner/config/config_tree.h"

namespace spindle::config {

// Throws InputError "LOC: PATH: WHAT; allowed: ALLOWED".
[[noreturn]] void fail(const Location& loc, const std::string& path, const std::string& what,
                       const std::string& allowed);

std::string join(const std::vector<std::string>& items, const std::string& sep = ", ");

class TableReader {
 public:
  // `value` must be a table (else InputError at its location); `path` is its dotted name.
  TableReader(const Value& value, std::string path);

  const std::string& path() const { return path_; }
  const Location& loc() const { return value_->loc(); }
  std::string key_path(const std::string& key) const;

  // Declares `key` as allowed and returns it when present.
  const Value* find(const std::string& key);
  bool has(const std::string& key) { return find(key) != nullptr; }
  // Location of `key`'s value, or of this table when absent.
  Location loc_of(const std::string& key);

  std::int64_t integer(const std::string& key, std::int64_t min, std::int64_t max);
  std::int64_t integer_or(const std::string& key, std::int64_t fallback, std::int64_t min,
                          std::int64_t max);
  double number(const std::string& key, double min, double max);
  double number_or(const std::string& key, double fallback, double min, double max);
  std::string string(const std::string& key, const std::string& allowed = "a string");
  std::string string_or(const std::string& key, const std::string& fallback,
                        const std::string& allowed = "a string");
  // A string that names something (traces/names.h's rule): it may become a file name.
  std::string name(const std::string& key, const std::string& what);
  std::string name_or(const std::string& key, const std::string& fallback, const std::string& what);
  std::string choice(const std::string& key, const std::vector<std::string>& allowed);
  std::string choice_or(const std::string& key, const std::string& fallback,
                        const std::vector<std::string>& allowed);
  bool boolean_or(const std::string& key, bool fallback);
  std::vector<std::string> string_list_or(const std::string& key,
                                          const std::string& allowed = "a list of strings");
  TableReader table(const std::string& key);
  std::optional<TableReader> optional_table(const std::string& key);

  // Rejects keys that no getter asked for, naming the allowed ones.
  void finish() const;

 private:
  const Value& require(const std::string& key, const std::string& allowed);
  void check_type(const Value& v, const std::string& key, Value::Type want,
                  const std::string& allowed) const;

  const Value* value_;
  std::string path_;
  std::vector<std::string> known_;
};

}  // namespace spindle::config
