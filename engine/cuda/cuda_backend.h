// The CUDA backend's factory, the one name the registry (backend_registry.cpp) needs; the
// backend itself (cuda_backend.cpp) keeps the CUDA headers to engine/cuda/. Throws InputError
// naming --backend when no CUDA device is present.
#pragma once

#include <memory>

#include "engine/backend.h"

namespace spindle::engine {

std::unique_ptr<Backend> make_cuda_backend();

}  // namespace spindle::engine
