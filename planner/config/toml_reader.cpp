// toml++ -> located value tree. This file holds toml++'s implementation (TOML_IMPLEMENTATION);
// every other file sees only config_tree.h, so the heavy header is compiled once.
#define TOML_IMPLEMENTATION
#include "planner/config/toml_reader.h"

#include <toml++/toml.h>

#include <algorithm>
#include <utility>

#include "traces/atomic_file.h"
#include "traces/errors.h"

namespace spindle::config {
namespace {

Location loc_of(const toml::source_region& src, const std::string& file) {
  return Location{file, static_cast<int>(src.begin.line), static_cast<int>(src.begin.column)};
}

// Tables and arrays nest at most this deep (Spindle's own files need 4): deeper input is
// refused before it can exhaust the stack.
constexpr int kMaxDepth = 32;

Value convert(const toml::node& node, const std::string& file, int depth);

void check_depth(const toml::node& node, const std::string& file, int depth) {
  if (depth > kMaxDepth)
    throw InputError(loc_of(node.source(), file).str() + ": tables and arrays nested more than " +
                     std::to_string(kMaxDepth) + " deep; allowed: at most " + std::to_string(kMaxDepth) +
                     " levels (dotted keys count one each)");
}

Value convert_table(const toml::table& t, const std::string& file, int depth) {
  check_depth(t, file, depth);
  Value out(Table{}, loc_of(t.source(), file));
  for (const auto& [key, node] : t) {
    Location key_loc = loc_of(key.source(), file);
    if (key_loc.line == 0) key_loc = loc_of(node.source(), file);
    out.table().set(std::string(key.str()), convert(node, file, depth + 1), key_loc);
  }
  // toml++ iterates keys sorted; users expect the order they wrote (components, tasks).
  std::stable_sort(out.table().entries().begin(), out.table().entries().end(),
                   [](const Entry& a, const Entry& b) {
                     return std::pair(a.key_loc.line, a.key_loc.column) < std::pair(b.key_loc.line, b.key_loc.column);
                   });
  return out;
}

Value convert(const toml::node& node, const std::string& file, int depth) {
  Location loc = loc_of(node.source(), file);
  switch (node.type()) {
    case toml::node_type::table:
      return convert_table(*node.as_table(), file, depth);
    case toml::node_type::array: {
      check_depth(node, file, depth);
      Array items;
      for (const toml::node& item : *node.as_array()) items.push_back(convert(item, file, depth + 1));
      return Value(std::move(items), loc);
    }
    case toml::node_type::string:
      return Value(std::string(node.as_string()->get()), loc);
    case toml::node_type::integer:
      return Value(node.as_integer()->get(), loc);
    case toml::node_type::floating_point:
      return Value(node.as_floating_point()->get(), loc);
    case toml::node_type::boolean:
      return Value(node.as_boolean()->get(), loc);
    default:
      throw InputError(loc.str() + ": dates and times are not used by Spindle; allowed: " +
                       "tables, arrays, strings, integers, floats, booleans");
  }
}

Value parse_text(const std::string& text, const std::string& name) {
  try {
    toml::table t = toml::parse(std::string_view(text), std::string_view(name));
    return convert_table(t, name, 0);
  } catch (const toml::parse_error& e) {
    Location loc = loc_of(e.source(), name);
    throw InputError(loc.str() + ": TOML syntax error: " + std::string(e.description()) +
                     "; allowed: TOML 1.0 (https://toml.io)");
  }
}

}  // namespace

namespace {
thread_local ReadLog* g_read_log = nullptr;
}  // namespace

ReadLog::ReadLog() : outer_(g_read_log) { g_read_log = this; }
ReadLog::~ReadLog() { g_read_log = outer_; }
void ReadLog::add(const std::string& path, const std::string& text) {
  files_.emplace_back(path, text);
  if (outer_ != nullptr) outer_->add(path, text);
}

Value parse_toml_file(const std::filesystem::path& path) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (!std::filesystem::exists(status))
    throw InputError(path.string() + ": no such scenario file; allowed: a path to a TOML file");
  if (!std::filesystem::is_regular_file(status))
    throw InputError(path.string() + ": is " +
                     (std::filesystem::is_directory(status) ? "a folder" : "not a regular file (a device, pipe or socket)") +
                     "; allowed: a path to a TOML file");
  const std::string text = read_file(path);
  if (g_read_log != nullptr) g_read_log->add(path.string(), text);
  return parse_text(text, path.string());
}

Value parse_toml_string(const std::string& text, const std::string& name) {
  return parse_text(text, name);
}

Value parse_override_value(const std::string& text, const Location& loc) {
  Value out(std::string(text), loc);
  try {
    toml::table t = toml::parse(std::string_view("v = " + text), std::string_view("override"));
    const toml::node* v = t.get("v");
    const bool date_like = v != nullptr && (v->is_date() || v->is_time() || v->is_date_time());
    if (t.size() == 1 && v != nullptr && !date_like) out = convert(*v, loc.file, 1);
  } catch (const toml::parse_error&) {
    // Not a TOML value: keep it as a bare string (--set scenario.name=my-study).
  }
  // Every node of the override points at the override itself.
  struct Relocate {
    const Location& loc;
    void operator()(Value& v) const {
      v.set_loc(loc);
      if (v.is_table())
        for (Entry& e : v.table().entries()) {
          e.key_loc = loc;
          (*this)(e.value);
        }
      if (v.type() == Value::Type::kArray)
        for (Value& item : v.array()) (*this)(item);
    }
  };
  Relocate{loc}(out);
  return out;
}

}  // namespace spindle::config
