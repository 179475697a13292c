// Located value tree: lookup, merge and dotted-path overrides (see config_tree.h).
#include "planner/config/config_tree.h"

#include <charconv>

#include "traces/errors.h"

namespace spindle::config {

std::string Location::str() const {
  if (line <= 0) return file;
  return file + ":" + std::to_string(line) + ":" + std::to_string(column);
}

const Value* Table::find(const std::string& key) const {
  for (const Entry& e : entries_)
    if (e.key == key) return &e.value;
  return nullptr;
}

Value* Table::find(const std::string& key) {
  for (Entry& e : entries_)
    if (e.key == key) return &e.value;
  return nullptr;
}

Value& Table::set(const std::string& key, Value value, Location key_loc) {
  for (Entry& e : entries_) {
    if (e.key == key) {
      e.value = std::move(value);
      e.key_loc = std::move(key_loc);
      return e.value;
    }
  }
  entries_.push_back(Entry{key, std::move(value), std::move(key_loc)});
  return entries_.back().value;
}

const char* Value::type_name(Type t) {
  switch (t) {
    case Type::kTable: return "table";
    case Type::kArray: return "array";
    case Type::kString: return "string";
    case Type::kInteger: return "integer";
    case Type::kFloat: return "float";
    case Type::kBoolean: return "boolean";
  }
  return "?";
}

void overlay(Value& base, const Value& top) {
  if (!base.is_table() || !top.is_table()) {
    base = top;
    return;
  }
  for (const Entry& e : top.table().entries()) {
    Value* existing = base.table().find(e.key);
    if (existing != nullptr && existing->is_table() && e.value.is_table()) {
      overlay(*existing, e.value);
    } else {
      base.table().set(e.key, e.value, e.key_loc);
    }
  }
}

namespace {

std::vector<std::string> split_dots(const std::string& s) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    size_t dot = s.find('.', start);
    parts.push_back(s.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return parts;
}

bool parse_index(const std::string& s, size_t& out) {
  if (s.empty()) return false;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

}  // namespace

void set_path(Value& root, const std::string& dotted_key, Value value) {
  const Location where = value.loc();
  auto fail = [&](const std::string& what) {
    throw InputError(where.str() + ": " + what + "; allowed: KEY=VALUE with KEY a dotted path " +
                     "of tables, or array indices, such as cluster.nodes or tasks.0.batch");
  };
  std::vector<std::string> parts = split_dots(dotted_key);
  Value* cur = &root;
  std::string walked;
  for (size_t i = 0; i < parts.size(); ++i) {
    const std::string& part = parts[i];
    if (part.empty()) fail("empty key segment in '" + dotted_key + "'");
    const bool last = i + 1 == parts.size();
    const std::string here = walked.empty() ? part : walked + "." + part;
    if (cur->type() == Value::Type::kArray) {
      size_t index = 0;
      if (!parse_index(part, index)) fail(walked + " is an array; '" + part + "' is not an index");
      if (index >= cur->array().size())
        fail(walked + " has " + std::to_string(cur->array().size()) + " entries; index " + part +
             " is out of range");
      Value& slot = cur->array()[index];
      if (last) {
        slot = value;
        return;
      }
      cur = &slot;
    } else if (cur->is_table()) {
      Value* next = cur->table().find(part);
      if (last) {
        cur->table().set(part, value, where);
        return;
      }
      if (next == nullptr) next = &cur->table().set(part, Value(Table{}, where), where);
      cur = next;
    } else {
      fail(walked + " is a " + std::string(Value::type_name(cur->type())) +
           ", it has no key '" + part + "'");
    }
    walked = here;
  }
}

}  // namespace spindle::config
