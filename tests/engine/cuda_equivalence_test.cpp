// Issue 22: the engine equivalence test on the CUDA backend: tiny multitask-clip-4 and
// qwen-val-3 under spindle's and sequential's plans on 4 logical devices sharing one GPU
// (threads, data through host copies), one iteration checked against the one-device CPU
// reference by equivalence_check.h, fp32 storage. Tolerance 1e-4 relative (the CPU's is 1e-5):
// cuBLAS and OpenBLAS sum in other orders. Label gpu: exits 77 (reported as skipped) without a
// CUDA device or a CUDA build; it has not run on a GPU yet. --cpu runs the same cases on the
// CPU backend (ctest engine_cuda_equivalence_cases: the cases build and run everywhere).
#include <gtest/gtest.h>

#include <cstdio>
#include <tuple>

#include "engine/backend_registry.h"
#include "engine/launch/logical_devices.h"
#include "engine_test_util.h"
#include "equivalence_check.h"
#include "planner/pipeline.h"

namespace spindle::engine::test {
namespace {

constexpr double kCudaRelativeTolerance = 1e-4;
std::string g_backend = "cuda";  // --cpu: the same cases on the CPU backend (the cases' own check)

using Case = std::tuple<std::string, std::string>;  // scenario, system

class CudaSystems : public ::testing::TestWithParam<Case> {};

TEST_P(CudaSystems, MatchTheCpuReference) {
  const auto& [name, system] = GetParam();
  const Scenario s = on_devices(zoo(name), 4);
  const LoweredPlan run = lowered_plan(ScenarioModel(s), system, "");
  const Agreement a = check_equivalence(s, run.programs, name + " " + system + " on 4 logical devices of one GPU",
                                        name + " tiny", g_backend, kCudaRelativeTolerance);
  std::printf("[%s equivalence] %s %s: worst loss diff %.3g, worst gradient diff %.3g (%s)\n", g_backend.c_str(),
              name.c_str(), system.c_str(), a.worst_loss, a.worst_grad, a.worst_grad_name.c_str());
}

std::string case_name(const ::testing::TestParamInfo<Case>& p) {
  std::string n = std::get<0>(p.param) + "_" + std::get<1>(p.param);
  for (char& c : n)
    if (c == '-') c = '_';
  return n;
}

INSTANTIATE_TEST_SUITE_P(cuda, CudaSystems,
                         ::testing::Combine(::testing::Values("multitask-clip-4", "qwen-val-3"),
                                            ::testing::Values("spindle", "sequential")),
                         case_name);

}  // namespace
}  // namespace spindle::engine::test

int main(int argc, char** argv) {
  if (argc > 1 && std::string(argv[1]) == "--cpu") {
    spindle::engine::test::g_backend = "cpu";
  } else {
    try {
      spindle::engine::make_backend("cuda");
    } catch (const spindle::Error& e) {
      std::printf("no CUDA backend here (%s): skipped\n", e.what());
      return 77;
    }
  }
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
