// A parsed configuration file as a tree of values that remember where they were written
// (file, line, column), so every later check can point at the exact place. Files are merged
// (presets, `extends`) and `--set KEY=VALUE` overrides applied on this tree, keeping locations.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace spindle::config {

// Where a value (or key) came from: a file position, or a command-line override.
struct Location {
  std::string file;  // path as given, or "--set KEY=VALUE" for command-line overrides
  int line = 0;      // 1-based; 0 when unknown (then only `file` is printed)
  int column = 0;

  std::string str() const;  // "file:line:col", or "file" when the position is unknown
  bool from_override() const { return line == 0 && file.rfind("--set ", 0) == 0; }
};

class Value;
struct Entry;

// A table keeps its keys in the order they were written (deterministic output, and the
// order users expect components and tasks to be listed in).
class Table {
 public:
  // Defined after Entry: std::vector<Entry> needs it complete (Clang with libstdc++ checks).
  Table();
  ~Table();
  Table(const Table&);
  Table(Table&&) noexcept;
  Table& operator=(const Table&);
  Table& operator=(Table&&) noexcept;

  const Value* find(const std::string& key) const;
  Value* find(const std::string& key);
  // Inserts or replaces `key`.
  Value& set(const std::string& key, Value value, Location key_loc);
  const std::vector<Entry>& entries() const { return entries_; }
  std::vector<Entry>& entries() { return entries_; }

 private:
  std::vector<Entry> entries_;
};

using Array = std::vector<Value>;

class Value {
 public:
  enum class Type { kTable, kArray, kString, kInteger, kFloat, kBoolean };
  using Data = std::variant<Table, Array, std::string, std::int64_t, double, bool>;

  Value() : data_(Table{}) {}
  Value(Data data, Location loc) : data_(std::move(data)), loc_(std::move(loc)) {}

  Type type() const { return static_cast<Type>(data_.index()); }
  static const char* type_name(Type t);

  bool is_table() const { return type() == Type::kTable; }
  const Table& table() const { return std::get<Table>(data_); }
  Table& table() { return std::get<Table>(data_); }
  const Array& array() const { return std::get<Array>(data_); }
  Array& array() { return std::get<Array>(data_); }
  const std::string& string() const { return std::get<std::string>(data_); }
  std::int64_t integer() const { return std::get<std::int64_t>(data_); }
  double floating() const { return std::get<double>(data_); }
  bool boolean() const { return std::get<bool>(data_); }

  const Location& loc() const { return loc_; }
  void set_loc(Location loc) { loc_ = std::move(loc); }

 private:
  Data data_;
  Location loc_;
};

struct Entry {
  std::string key;
  Value value;
  Location key_loc;  // where the key itself was written (for "unknown key" messages)
};

inline Table::Table() = default;
inline Table::~Table() = default;
inline Table::Table(const Table&) = default;
inline Table::Table(Table&&) noexcept = default;
inline Table& Table::operator=(const Table&) = default;
inline Table& Table::operator=(Table&&) noexcept = default;

// Merges `top` into `base`: tables merge key by key (recursively); any other value,
// arrays included, replaces what `base` had.
void overlay(Value& base, const Value& top);

// Applies one `--set KEY=VALUE` override. KEY is dotted ("cluster.nodes", "tasks.0.batch":
// a number indexes an array); missing tables are created so that the schema check reports
// unknown keys at the override. `value` carries the override's location. Throws InputError
// when the path walks into something that is not a table or an array.
void set_path(Value& root, const std::string& dotted_key, Value value);

}  // namespace spindle::config
