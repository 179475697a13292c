// Typed errors thrown by library code; only a program's main turns them into exit codes
// (see main_guard.h): InputError -> 2 (the user's file or flag is wrong), anything else -> 1.
#pragma once

#include <stdexcept>
#include <string>

#include "traces/names.h"

namespace spindle {

// Base of every error the project throws on purpose. Its message is one printable line:
// control characters from the user's text are spelt out (names.h).
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(printable(what)) {}
};

// Bad input: a scenario, plan, profile, checkpoint or flag. The message is one line that
// names the file, the place and what is allowed ("FILE:LINE:COL: what; allowed: ...").
class InputError : public Error {
 public:
  using Error::Error;
};

// The outside world failed us: a file could not be read or written.
class IoError : public Error {
 public:
  using Error::Error;
};

// A broken invariant inside the project: a bug, never the user's fault.
class InternalError : public Error {
 public:
  using Error::Error;
};

}  // namespace spindle
