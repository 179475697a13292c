// Names that users give (scenarios, tasks, components, systems in plan files) end up in file
// names and table rows: they must be short, printable and free of path separators. And error
// messages stay one printable line whatever the user's text holds (a NUL, a newline).
#pragma once

#include <string>
#include <string_view>

namespace spindle {

constexpr size_t kMaxNameBytes = 64;

// Why `name` cannot be used as a name ("" when it can): empty, longer than kMaxNameBytes, "." or
// "..", a path separator or a control character.
std::string name_problem(std::string_view name);

// What the rule allows, for error messages.
constexpr const char* kNameRule = "1 to 64 bytes, no '/', '\\', control characters, '.' or '..'";

// `text` with control characters spelt as \xNN (a NUL or a newline would cut or break a one-line
// message); everything else, UTF-8 included, kept.
std::string printable(std::string_view text);

}  // namespace spindle
