// Backends by name: "cpu" always, "cuda" when the project is built with CUDA. The one place
// that knows which backends exist (and the only #ifdef of the engine).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "engine/backend.h"

namespace spindle::engine {

std::vector<std::string> backend_names();  // those built into this binary

// Throws InputError naming the flag and the allowed names for an unknown or absent backend.
std::unique_ptr<Backend> make_backend(const std::string& name);

}  // namespace spindle::engine
