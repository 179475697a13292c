// Strict table reader (see config_reader.h).
#include "planner/config/config_reader.h"

#include <algorithm>
#include <vector>
#include <sstream>

#include "traces/errors.h"
#include "traces/names.h"

namespace spindle::config {
namespace {

std::string format_number(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

}  // namespace

void fail(const Location& loc, const std::string& path, const std::string& what,
          const std::string& allowed) {
  std::string msg = loc.str() + ": ";
  if (!path.empty()) msg += path + ": ";
  msg += what + "; allowed: " + allowed;
  throw InputError(msg);
}

std::string join(const std::vector<std::string>& items, const std::string& sep) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) out += (i ? sep : "") + items[i];
  return out;
}

TableReader::TableReader(const Value& value, std::string path)
    : value_(&value), path_(std::move(path)) {
  if (!value.is_table())
    fail(value.loc(), path_,
         std::string("expected a table, found ") + Value::type_name(value.type()), "a table");
}

std::string TableReader::key_path(const std::string& key) const {
  return path_.empty() ? key : path_ + "." + key;
}

const Value* TableReader::find(const std::string& key) {
  if (std::find(known_.begin(), known_.end(), key) == known_.end()) known_.push_back(key);
  return value_->table().find(key);
}

Location TableReader::loc_of(const std::string& key) {
  const Value* v = find(key);
  return v != nullptr ? v->loc() : value_->loc();
}

namespace {

// Edits (insert, delete, replace, swap of neighbours) from a to b, to tell a typo.
size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i)
    for (size_t j = 1; j <= b.size(); ++j) {
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] != b[j - 1])});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  return d[a.size()][b.size()];
}

}  // namespace

const Value& TableReader::require(const std::string& key, const std::string& allowed) {
  const Value* v = find(key);
  if (v == nullptr) {
    // A key of the table that no reader asked for and that is a few edits from the missing
    // one is most likely it, misspelt: name it at its place.
    for (const Entry& e : value_->table().entries())
      if (std::find(known_.begin(), known_.end(), e.key) == known_.end() && edit_distance(e.key, key) <= 2)
        fail(e.key_loc, key_path(e.key), "unknown key (missing key '" + key + "': a typo?)", allowed);
    fail(value_->loc(), path_, "missing key '" + key + "'", allowed);
  }
  return *v;
}

void TableReader::check_type(const Value& v, const std::string& key, Value::Type want,
                             const std::string& allowed) const {
  if (v.type() != want)
    fail(v.loc(), key_path(key),
         std::string("expected ") + Value::type_name(want) + ", found " +
             Value::type_name(v.type()),
         allowed);
}

std::int64_t TableReader::integer(const std::string& key, std::int64_t min, std::int64_t max) {
  const std::string allowed = "integer " + std::to_string(min) + ".." + std::to_string(max);
  const Value& v = require(key, allowed);
  check_type(v, key, Value::Type::kInteger, allowed);
  if (v.integer() < min || v.integer() > max)
    fail(v.loc(), key_path(key), std::to_string(v.integer()) + " is out of range", allowed);
  return v.integer();
}

std::int64_t TableReader::integer_or(const std::string& key, std::int64_t fallback,
                                     std::int64_t min, std::int64_t max) {
  return has(key) ? integer(key, min, max) : fallback;
}

double TableReader::number(const std::string& key, double min, double max) {
  const std::string allowed = "number " + format_number(min) + ".." + format_number(max);
  const Value& v = require(key, allowed);
  double x = 0;
  if (v.type() == Value::Type::kInteger) {
    x = static_cast<double>(v.integer());
  } else {
    check_type(v, key, Value::Type::kFloat, allowed);
    x = v.floating();
  }
  if (!(x >= min && x <= max))
    fail(v.loc(), key_path(key), format_number(x) + " is out of range", allowed);
  return x;
}

double TableReader::number_or(const std::string& key, double fallback, double min, double max) {
  return has(key) ? number(key, min, max) : fallback;
}

std::string TableReader::string(const std::string& key, const std::string& allowed) {
  const Value& v = require(key, allowed);
  check_type(v, key, Value::Type::kString, allowed);
  if (v.string().empty()) fail(v.loc(), key_path(key), "must not be empty", allowed);
  return v.string();
}

std::string TableReader::name(const std::string& key, const std::string& what) {
  const std::string allowed = what + " (" + kNameRule + ")";
  std::string n = string(key, allowed);
  const std::string problem = name_problem(n);
  if (!problem.empty()) fail(require(key, allowed).loc(), key_path(key), "'" + n + "' " + problem, allowed);
  return n;
}

std::string TableReader::name_or(const std::string& key, const std::string& fallback, const std::string& what) {
  return has(key) ? name(key, what) : fallback;
}

std::string TableReader::string_or(const std::string& key, const std::string& fallback,
                                   const std::string& allowed) {
  return has(key) ? string(key, allowed) : fallback;
}

std::string TableReader::choice(const std::string& key, const std::vector<std::string>& allowed) {
  const std::string list = "one of " + join(allowed);
  const Value& v = require(key, list);
  check_type(v, key, Value::Type::kString, list);
  if (std::find(allowed.begin(), allowed.end(), v.string()) == allowed.end())
    fail(v.loc(), key_path(key), "'" + v.string() + "' is not known", list);
  return v.string();
}

std::string TableReader::choice_or(const std::string& key, const std::string& fallback,
                                   const std::vector<std::string>& allowed) {
  return has(key) ? choice(key, allowed) : fallback;
}

bool TableReader::boolean_or(const std::string& key, bool fallback) {
  const Value* v = find(key);
  if (v == nullptr) return fallback;
  check_type(*v, key, Value::Type::kBoolean, "true or false");
  return v->boolean();
}

std::vector<std::string> TableReader::string_list_or(const std::string& key,
                                                     const std::string& allowed) {
  const Value* v = find(key);
  std::vector<std::string> out;
  if (v == nullptr) return out;
  check_type(*v, key, Value::Type::kArray, allowed);
  for (size_t i = 0; i < v->array().size(); ++i) {
    const Value& item = v->array()[i];
    if (item.type() != Value::Type::kString || item.string().empty())
      fail(item.loc(), key_path(key) + "." + std::to_string(i),
           std::string("expected a non-empty string, found ") + Value::type_name(item.type()),
           allowed);
    if (std::find(out.begin(), out.end(), item.string()) != out.end())
      fail(item.loc(), key_path(key), "'" + item.string() + "' is listed twice",
           "each name once");
    out.push_back(item.string());
  }
  return out;
}

TableReader TableReader::table(const std::string& key) {
  const Value& v = require(key, "a table");
  check_type(v, key, Value::Type::kTable, "a table");
  return TableReader(v, key_path(key));
}

std::optional<TableReader> TableReader::optional_table(const std::string& key) {
  if (!has(key)) return std::nullopt;
  return table(key);
}

void TableReader::finish() const {
  for (const Entry& e : value_->table().entries()) {
    if (std::find(known_.begin(), known_.end(), e.key) == known_.end()) {
      fail(e.key_loc, key_path(e.key), "unknown key",
           known_.empty() ? std::string("no keys here") : join(known_));
    }
  }
}

}  // namespace spindle::config
