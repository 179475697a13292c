// The one place where exceptions become exit codes, shared by every program's main:
// 0 success, 2 bad input (InputError: one line naming file, place and what is allowed),
// 1 anything else (I/O failure, internal error), with one line on stderr.
#pragma once

#include <functional>

namespace spindle {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitBadInput = 2;

// Runs `body` and maps what it throws to an exit code, printing one line to stderr.
// `program` prefixes messages that are not about the user's input.
int run_guarded(const char* program, const std::function<int()>& body);

}  // namespace spindle
