// The median iteration of the last few (see trace_window.h).
#include "engine/launch/trace_window.h"

#include <algorithm>

#include "traces/errors.h"

namespace spindle::engine {

void TraceWindow::add(TracedIteration it) {
  kept_.push_back(std::move(it));
  if (static_cast<int>(kept_.size()) > kTraceWindow) kept_.pop_front();
}

const TracedIteration& TraceWindow::median() const {
  if (kept_.empty()) throw InternalError("trace: no iteration ran");
  std::vector<const TracedIteration*> order;
  for (const TracedIteration& it : kept_) order.push_back(&it);
  std::stable_sort(order.begin(), order.end(), [](const TracedIteration* a, const TracedIteration* b) {
    return a->iteration_s != b->iteration_s ? a->iteration_s < b->iteration_s : a->step > b->step;
  });
  return *order[(order.size() - 1) / 2];
}

}  // namespace spindle::engine
