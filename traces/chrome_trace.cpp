// Chrome trace-event writer (see chrome_trace.h).
#include "traces/chrome_trace.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

namespace spindle {
namespace {

using nlohmann::ordered_json;

double us(double s) { return std::round(s * 1e9) / 1e3; }

ordered_json to_json(const TraceArgs& args) {
  ordered_json j = ordered_json::object();
  for (const auto& [key, value] : args) std::visit([&, k = &key](const auto& v) { j[*k] = v; }, value);
  return j;
}

std::string dump(const ordered_json& j) { return j.dump(-1, ' ', false, ordered_json::error_handler_t::replace); }

}  // namespace

void ChromeTrace::process(int pid, const std::string& name, int sort_index) {
  lines_.push_back(dump({{"name", "process_name"}, {"ph", "M"}, {"pid", pid}, {"args", {{"name", name}}}}));
  lines_.push_back(dump({{"name", "process_sort_index"}, {"ph", "M"}, {"pid", pid}, {"args", {{"sort_index", sort_index}}}}));
}

void ChromeTrace::thread(int pid, int tid, const std::string& name, int sort_index) {
  lines_.push_back(dump({{"name", "thread_name"}, {"ph", "M"}, {"pid", pid}, {"tid", tid}, {"args", {{"name", name}}}}));
  lines_.push_back(
      dump({{"name", "thread_sort_index"}, {"ph", "M"}, {"pid", pid}, {"tid", tid}, {"args", {{"sort_index", sort_index}}}}));
}

void ChromeTrace::slice(const std::string& name, const std::string& category, double start_s, double end_s, int pid,
                        int tid, const TraceArgs& args) {
  lines_.push_back(dump({{"name", name}, {"cat", category}, {"ph", "X"}, {"ts", us(start_s)},
                         {"dur", std::round((us(end_s) - us(start_s)) * 1e3) / 1e3}, {"pid", pid}, {"tid", tid},
                         {"args", to_json(args)}}));
}

void ChromeTrace::async(const std::string& name, const std::string& category, const std::string& id, double start_s,
                        double end_s, int pid, int tid) {
  lines_.push_back(dump({{"name", name}, {"cat", category}, {"ph", "b"}, {"id", id}, {"ts", us(start_s)}, {"pid", pid}, {"tid", tid}}));
  lines_.push_back(dump({{"name", name}, {"cat", category}, {"ph", "e"}, {"id", id}, {"ts", us(end_s)}, {"pid", pid}, {"tid", tid}}));
}

void ChromeTrace::flow(const std::string& name, std::int64_t id, double from_s, int from_pid, int from_tid, double to_s,
                       int to_pid, int to_tid) {
  lines_.push_back(dump({{"name", name}, {"cat", "flow"}, {"ph", "s"}, {"id", id}, {"ts", std::max(0.0, us(from_s) - 0.001)},
                         {"pid", from_pid}, {"tid", from_tid}}));
  lines_.push_back(
      dump({{"name", name}, {"cat", "flow"}, {"ph", "f"}, {"id", id}, {"ts", us(to_s)}, {"pid", to_pid}, {"tid", to_tid}}));
}

std::string ChromeTrace::json(const TraceArgs& other_data) const {
  std::string out = "{\"displayTimeUnit\": \"ms\", \"otherData\": " + dump(to_json(other_data)) + ",\n\"traceEvents\": [\n";
  for (size_t i = 0; i < lines_.size(); ++i) out += lines_[i] + (i + 1 < lines_.size() ? ",\n" : "\n");
  return out + "]}\n";
}

}  // namespace spindle
