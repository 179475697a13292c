// Chrome trace-event JSON (the format Perfetto, ui.perfetto.dev, and chrome://tracing open)
// from plain events: processes and threads by id, complete slices, async slices and flow
// arrows. Times are given in seconds and written in microseconds rounded to nanoseconds, one
// event per line, in the order added: the same events give the same bytes.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace spindle {

using TraceArg = std::variant<std::int64_t, double, std::string, std::vector<std::int64_t>>;
using TraceArgs = std::vector<std::pair<std::string, TraceArg>>;

class ChromeTrace {
 public:
  // Names a process (and sorts processes by `sort_index`).
  void process(int pid, const std::string& name, int sort_index);
  // Names a thread of a process (and sorts threads by `sort_index`).
  void thread(int pid, int tid, const std::string& name, int sort_index);
  // A complete slice ("X") on a thread from `start_s` to `end_s`.
  void slice(const std::string& name, const std::string& category, double start_s, double end_s, int pid, int tid,
             const TraceArgs& args = {});
  // An async slice ("b" ... "e") with its own id, shown on the process of `pid`.
  void async(const std::string& name, const std::string& category, const std::string& id, double start_s,
             double end_s, int pid, int tid);
  // A flow arrow from (from_pid, from_tid) just before `from_s` to the slice at `to_s` on (to_pid, to_tid).
  void flow(const std::string& name, std::int64_t id, double from_s, int from_pid, int from_tid, double to_s,
            int to_pid, int to_tid);
  // The whole trace: {"displayTimeUnit": "ms", "otherData": {...}, "traceEvents": [...]}.
  std::string json(const TraceArgs& other_data) const;

 private:
  std::vector<std::string> lines_;
};

}  // namespace spindle
