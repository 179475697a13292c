// The backend registry (see backend_registry.h). The CUDA backend registers here, behind
// SPINDLE_HAVE_CUDA_BACKEND (set for this file alone where the CUDA toolkit was found).
#include "engine/backend_registry.h"

#include "engine/cpu/cpu_backend.h"
#include "traces/errors.h"
#ifdef SPINDLE_HAVE_CUDA_BACKEND
#include "engine/cuda/cuda_backend.h"
#endif

namespace spindle::engine {

std::vector<std::string> backend_names() {
  std::vector<std::string> names{"cpu"};
#ifdef SPINDLE_HAVE_CUDA_BACKEND
  names.push_back("cuda");
#endif
  return names;
}

std::unique_ptr<Backend> make_backend(const std::string& name) {
  if (name == "cpu") return std::make_unique<CpuBackend>();
#ifdef SPINDLE_HAVE_CUDA_BACKEND
  if (name == "cuda") return make_cuda_backend();
#endif
  std::string allowed;
  for (const std::string& n : backend_names()) allowed += (allowed.empty() ? "" : ", ") + n;
  throw InputError("--backend " + name + ": not built into this binary; allowed: " + allowed);
}

}  // namespace spindle::engine
