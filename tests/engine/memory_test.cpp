// Memory as planned (issue 21 item 3): the allocator charges each block to the part that
// allocated it and records the parts at the total's peak; a rank frees saved state after its
// backward and layer outputs after their last use, and lays a bucket's gradients out flat; its
// measured peak stays within 10% of the planner's estimate for the same storage
// (planner/program/program_memory.h) on plans of every kind, and so do its parts.
#include <gtest/gtest.h>

#include <cmath>

#include "engine/cpu/host_cache.h"
#include "engine/launch/logical_devices.h"
#include "engine/launch/thread_launcher.h"
#include "engine_test_util.h"
#include "planner/pipeline.h"
#include "planner/program/program_memory.h"

namespace spindle::engine::test {
namespace {

TEST(HostCache, ChargesEachBlockToItsPartAndKeepsThePartsAtThePeak) {
  auto cache = cpu::HostCache::make();
  auto w = cache->get(100, MemPart::kWeights);
  {
    auto a = cache->get(400, MemPart::kActivations);
    auto b = cache->get(50, MemPart::kBuffers);
    EXPECT_EQ(cache->use().in_use[static_cast<size_t>(MemPart::kActivations)], 400u);
  }
  auto g = cache->get(200, MemPart::kGrads);
  const MemoryUse u = cache->use();
  EXPECT_EQ(u.peak_total, 550u);
  EXPECT_EQ(u.at_peak[static_cast<size_t>(MemPart::kActivations)], 400u);
  EXPECT_EQ(u.at_peak[static_cast<size_t>(MemPart::kGrads)], 0u);
  EXPECT_EQ(u.in_use[static_cast<size_t>(MemPart::kActivations)], 0u);
  EXPECT_EQ(u.in_use[static_cast<size_t>(MemPart::kGrads)], 200u);
  EXPECT_EQ(u.total_in_use(), 300u);
  cache->reset_peak();
  EXPECT_EQ(cache->use().peak_total, 300u);
  {
    MemPartScope outer(MemPart::kOptimizer);
    {
      MemPartScope inner(MemPart::kWeights);
      EXPECT_EQ(MemPartScope::current(), MemPart::kWeights);
    }
    EXPECT_EQ(MemPartScope::current(), MemPart::kOptimizer);
  }
  EXPECT_EQ(MemPartScope::current(), MemPart::kBuffers);
}

struct Case {
  std::string scenario, system;
  std::vector<std::string> sets;
  DType dtype = DType::kF32;
};

Scenario scenario_of(const Case& c) {
  LoadOptions lo;
  lo.overrides = c.sets;
  return on_devices(scale_scenario(load_scenario(std::string(SPINDLE_SOURCE_DIR) + "/scenarios/" + c.scenario + ".toml", lo),
                                   find_scale("tiny")),
                    4);
}

TEST(MemoryReport, MeasuredPeakIsWithinTenPercentOfTheEstimate) {
  const std::vector<std::string> tp = {"planner.tp.vision=2", "cluster.intra_node.latency_us=0",
                                       "cluster.intra_node.bw_GBps=100000"};
  for (const Case& c : {Case{"multitask-clip-4", "spindle", {}}, Case{"multitask-clip-4", "sequential", {}},
                        Case{"multitask-clip-4", "uniform", {"planner.zero1=true"}},
                        Case{"multitask-clip-4", "sequential", tp}, Case{"qwen-val-3", "spindle", {}},
                        Case{"qwen-val-3", "spindle", {}, DType::kBF16}}) {
    SCOPED_TRACE(c.scenario + " " + c.system + (c.sets.empty() ? "" : " " + c.sets.front()) + " " +
                 dtype_name(c.dtype));
    const Scenario s = scenario_of(c);
    const ScenarioModel model(s);
    const LoweredPlan rp = lowered_plan(model, c.system, "");
    TrainOptions opt;
    opt.activation_dtype = c.dtype;
    ThreadLauncher launcher(s, rp.programs, "cpu", opt);
    launcher.step();
    launcher.step();
    Storage storage = fp32_unfused();
    storage.element_bytes = dtype_bytes(c.dtype);
    const std::vector<MemoryUse> measured = launcher.memory();
    ASSERT_EQ(measured.size(), rp.programs.devices.size());
    for (size_t d = 0; d < measured.size(); ++d) {
      const MemoryBreakdown e = program_memory(rp.programs.devices[d], model.g, model.mg, storage);
      const MemoryUse& m = measured[d];
      auto at = [&](MemPart p) { return static_cast<double>(m.at_peak[static_cast<size_t>(p)]); };
      // The weight state within 1%: ZeRO-1 pads a bucket to its group, and a TP shard keeps its
      // own copy of the replicated tensors (layer-norm gains, biases) that the model divides.
      EXPECT_NEAR(at(MemPart::kWeights), e.weights, 0.01 * e.weights) << "device " << d;
      EXPECT_NEAR(at(MemPart::kGrads), e.grads + e.accumulation, 0.01 * e.weights) << "device " << d;
      EXPECT_NEAR(at(MemPart::kOptimizer), e.optimizer, 0.01 * e.optimizer) << "device " << d;
      EXPECT_NEAR(at(MemPart::kActivations), e.activations, 0.10 * e.activations) << "device " << d;
      EXPECT_NEAR(static_cast<double>(m.peak_total), e.total(), 0.10 * e.total()) << "device " << d;
      EXPECT_GT(e.activations, 0) << "device " << d;
    }
  }
}

}  // namespace
}  // namespace spindle::engine::test
