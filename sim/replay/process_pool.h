// One simulation per process: SimGrid keeps one engine per process and never resets its clock,
// so every job runs in its own forked child (jobs run side by side), which hands back a string
// through a temporary file; the parent gathers them in job order.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace spindle {

// Runs every job in a child process, at most `parallel` at a time (0: the number of CPUs), and
// returns their results in job order. An exception in a child is rethrown in the parent with
// its type (InputError, InternalError, else Error) and message; a child that dies is an
// InternalError naming the job.
std::vector<std::string> run_in_children(const std::vector<std::function<std::string()>>& jobs, int parallel = 0);

}  // namespace spindle
