// The planner core: Theorem 1 against closed forms, the allocator's worked example in the Spindle paper (arXiv 2409.03365),
// and, for every system on every zoo scenario and on seeded random scenarios, sound plans
// (layers once and in order, valid device counts, never more than N devices, dependencies
// kept) that are never faster than the lower bound. Plan files round-trip and bad ones fail
// with one line.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <random>

#include "planner/cost/cost_model.h"
#include "planner/graph/graph_builder.h"
#include "planner/schedule/allocator.h"
#include "planner/schedule/bounds.h"
#include "planner/schedule/systems.h"
#include "test_scenarios.h"
#include "traces/atomic_file.h"
#include "traces/errors.h"

namespace spindle::testing {
namespace {

TEST(Allocator, Theorem1ClosedFormForLinearScaling) {
  // T_m(n) = a_m / n: n*_m = N a_m L_m / sum(a L), C* = sum(a L) / N.
  ScalingCurve c1 = linear_curve(2.0, 64), c2 = linear_curve(1.0, 64), c3 = linear_curve(0.5, 64);
  std::vector<LevelItem> items = {level_item(0, 10, c1), level_item(1, 20, c2), level_item(2, 40, c3)};
  LevelAllocation a = allocate_level(items, 12);
  EXPECT_NEAR(a.cstar_s, 60.0 / 12, 1e-8);
  for (double n : a.n_star) EXPECT_NEAR(n, 4.0, 1e-6);
  ASSERT_EQ(a.pieces.size(), 3u);  // 4 is a valid count: one piece each
  for (const Piece& p : a.pieces) EXPECT_EQ(p.n, 4);
}

TEST(Allocator, WorkedExampleOfSection3) {
  // 4 devices, T = a/n; MetaOp 0 gets n* = 1.5 with L = 12: C* = 8a, so 8 layers on 2 GPUs
  // and 4 on 1. MetaOp 1 (L = 20) takes the other 2.5 devices: 8 layers on 4, 12 on 2.
  ScalingCurve c = linear_curve(1.0, 4);
  std::vector<LevelItem> items = {level_item(0, 12, c), level_item(1, 20, c)};
  LevelAllocation a = allocate_level(items, 4);
  EXPECT_NEAR(a.cstar_s, 8.0, 1e-8);
  EXPECT_NEAR(a.n_star[0], 1.5, 1e-6);
  EXPECT_NEAR(a.n_star[1], 2.5, 1e-6);
  ASSERT_EQ(a.pieces.size(), 4u);
  EXPECT_EQ(a.pieces[0].n, 2);
  EXPECT_EQ(a.pieces[0].layers, 8);
  EXPECT_EQ(a.pieces[1].n, 1);
  EXPECT_EQ(a.pieces[1].layers, 4);
  EXPECT_EQ(a.pieces[1].first_layer, 8);
  EXPECT_EQ(a.pieces[2].n, 4);
  EXPECT_EQ(a.pieces[2].layers, 8);
  EXPECT_EQ(a.pieces[3].n, 2);
  EXPECT_EQ(a.pieces[3].layers, 12);
}

TEST(Allocator, SaturatedAndBelowOneDevice) {
  // Batch 2: at most 2 devices help. Two such MetaOps on 8 GPUs: saturated, C* = L T(2).
  ScalingCurve c = linear_curve(1.0, 2);
  LevelAllocation a = allocate_level({level_item(0, 6, c), level_item(1, 3, c)}, 8);
  EXPECT_NEAR(a.cstar_s, 6 * 0.5, 1e-9);
  // A tiny MetaOp next to a big one gets n* < 1: one piece of all its layers on one device.
  ScalingCurve big = linear_curve(100.0, 8), tiny = linear_curve(1.0, 8);
  LevelAllocation b = allocate_level({level_item(0, 8, big), level_item(1, 2, tiny)}, 8);
  EXPECT_LT(b.n_star[1], 1.0);
  EXPECT_EQ(b.pieces.back().metaop, 1);
  EXPECT_EQ(b.pieces.back().n, 1);
  EXPECT_EQ(b.pieces.back().layers, 2);
  EXPECT_TRUE(std::isinf(inverse_time(big, 1.0)));  // faster than 8 devices allow
  EXPECT_NEAR(inverse_time(big, 200.0), 0.5, 1e-12);  // time-sharing below one device
}

struct PlanFixture : ScenarioModel {
  PlanFixture() : ScenarioModel(load_scenario(default_data_dir() / "multitask-clip-4.toml")) {}
};

TEST(PlanFile, RoundTripAndSameBytes) {
  PlanFixture f;
  Plan p = plan_system("spindle-paper", f.s, f.mg, f.cost);
  const std::string text = plan_json(p, f.s, f.mg);
  EXPECT_EQ(text, plan_json(plan_system("spindle-paper", f.s, f.mg, f.cost), f.s, f.mg));
  const std::string file = unique_temp_path("spindle-plan-rt.json").string();
  write_file_atomically(file, text);
  Plan q = read_plan(file, f.s, f.mg, f.cost);
  set_bounds(q, f.mg, f.cost);
  EXPECT_EQ(plan_json(q, f.s, f.mg), text);
  std::filesystem::remove(file);
}

std::string plan_error(const PlanFixture& f, const std::string& text) {
  const std::string file = unique_temp_path("spindle-plan-bad.json").string();
  write_file_atomically(file, text);
  try {
    read_plan(file, f.s, f.mg, f.cost);
  } catch (const InputError& e) {
    std::filesystem::remove(file);
    std::string msg = e.what();
    return msg.substr(msg.find(": ") + 2);
  }
  return "";
}

TEST(PlanFile, MismatchesAreOneClearLine) {
  PlanFixture f;
  const std::string text = plan_json(plan_system("sequential", f.s, f.mg, f.cost), f.s, f.mg);
  auto edit = [&](const std::string& from, const std::string& to) {
    std::string t = text;
    size_t at = t.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return t.replace(at, from.size(), to);
  };
  EXPECT_EQ(plan_error(f, edit("\"gpus\": 32", "\"gpus\": 16")),
            "gpus: plan is for 16 GPUs, " + f.s.file + " has 32; allowed: a plan of this scenario");
  EXPECT_EQ(plan_error(f, edit("\"format_version\": 1", "\"format_version\": 9")),
            "format_version: 9 is not supported; allowed: a plan file of format_version 1");
  EXPECT_THAT(plan_error(f, edit("\"L\": 24", "\"L\": 23")), ::testing::StartsWith("metaops."));
  EXPECT_THAT(plan_error(f, edit("\"n\": 32", "\"n\": 64")),
              ::testing::HasSubstr("devices do not divide its batch"));
  EXPECT_THAT(plan_error(f, "{"), ::testing::StartsWith("not JSON"));
  // Integers that would wrap, device lists that do not fit, wrong JSON types: one line each.
  EXPECT_THAT(plan_error(f, edit("\"n\": 32", "\"n\": 4294967328")), ::testing::HasSubstr(".n: expected an integer"));
  EXPECT_THAT(plan_error(f, edit("\"n\": 32,", "\"n\": 32, \"devices\": [99],")),
              ::testing::HasSubstr(".devices: '99' is not a distinct device id"));
  EXPECT_THAT(plan_error(f, edit("\"n\": 32,", "\"n\": 32, \"devices\": \"x\",")),
              ::testing::HasSubstr(".devices: expected array"));
  EXPECT_THAT(plan_error(f, edit("\"notes\": [", "\"schedule_from\": 5, \"notes\": [")), ::testing::Eq(""));
  // The system names output files: no way out of --out, nothing that breaks a table row.
  for (const char* bad : {"../escape-demo", "/tmp/abs", "", "a/b/c", "..", "a\\nb", "a\\u0000b"})
    EXPECT_THAT(plan_error(f, edit("\"system\": \"sequential\"", std::string("\"system\": \"") + bad + "\"")),
                ::testing::StartsWith("system: '"))
        << bad;
  EXPECT_THAT(plan_error(f, edit("\"system\": \"sequential\"", "\"system\": \"" + std::string(300, 'x') + "\"")),
              ::testing::HasSubstr("is 300 bytes long; allowed: a system name of 1 to 64 bytes"));
  // Fields that were read and ignored (issue 18): each edit is refused where it was made.
  EXPECT_THAT(plan_error(f, edit("\"component\": \"text\"", "\"component\": \"vision\"")),
              ::testing::StartsWith("metaops.0.component: does not match the scenario"));
  EXPECT_THAT(plan_error(f, edit("\"level\": 1", "\"level\": 2")),
              ::testing::StartsWith("metaops.0.level: does not match the scenario"));
  EXPECT_THAT(plan_error(f, edit("\"text-audio\"", "\"vision-depth\"")),
              ::testing::StartsWith("metaops.0.tasks: does not match the scenario"));
  EXPECT_EQ(plan_error(f, edit("\"scenario\": \"multitask-clip-4\"", "\"scenario\": \"other\"")),
            "scenario: plan is for scenario 'other', " + f.s.file + " is 'multitask-clip-4'; allowed: a plan of this scenario");
  EXPECT_THAT(plan_error(f, edit("\"gpus\": 32", "\"gpus\": 32, \"gpu\": 1")), ::testing::StartsWith("gpu: unknown key"));
  EXPECT_THAT(plan_error(f, edit("\"n\": 32,", "\"n\": 32, \"device\": 1,")),
              ::testing::HasSubstr(".device: unknown key; allowed: metaop, first_layer"));
  // Rows follow from n: stated differently, they are refused, not ignored.
  std::string rows;
  for (int d = 0; d < 32; ++d) rows += (d ? ",[" : "[") + std::to_string(d) + "," + std::to_string(d + 1) + "]";
  EXPECT_THAT(plan_error(f, edit("\"n\": 32,", "\"n\": 32, \"rows\": [" + rows + "],")), ::testing::Eq(""));
  EXPECT_THAT(plan_error(f, edit("\"n\": 32,", "\"n\": 32, \"rows\": [[0,2]],")),
              ::testing::HasSubstr(".rows: differ from the rows n = 32 gives"));
  // Devices on some slices only: all or none.
  std::string ids;
  for (int d = 0; d < 32; ++d) ids += (d ? "," : "") + std::to_string(d);
  EXPECT_THAT(plan_error(f, edit("\"n\": 32,", "\"n\": 32, \"devices\": [" + ids + "],")),
              ::testing::HasSubstr("slices list their devices (either all or none)"));
}

TEST(PlanFile, AnEditedAllocationIsAcceptedWithItsTimesDerived) {
  // A person edits sequential's first slice from 32 to 16 devices and leaves the times as they
  // were: the file is accepted, the slice lasts what 16 devices take, the slices after it move
  // where they must, and one note says the times were re-derived.
  PlanFixture f;
  const Plan original = plan_system("sequential", f.s, f.mg, f.cost);
  std::string text = plan_json(original, f.s, f.mg);
  const size_t at = text.find("\"n\": 32");
  ASSERT_NE(at, std::string::npos);
  text.replace(at, 7, "\"n\": 16");
  const std::string file = unique_temp_path("spindle-plan-edit.json").string();
  write_file_atomically(file, text);
  const Plan p = read_plan(file, f.s, f.mg, f.cost);
  std::filesystem::remove(file);
  const Slice& first = p.waves.front().slices.front();
  EXPECT_EQ(first.n, 16);
  EXPECT_NEAR(first.end_s - first.start_s, f.cost.metaop(first.metaop).curve.time_s(16) * first.layers(), 1e-12);
  EXPECT_EQ(check_plan(p, f.mg, f.cost), "");
  ASSERT_FALSE(p.notes.empty());
  EXPECT_THAT(p.notes.back(), ::testing::HasSubstr("times re-derived from the allocation"));
  // Unedited, nothing moves and no note is added.
  const std::string same = unique_temp_path("spindle-plan-same.json").string();
  write_file_atomically(same, plan_json(original, f.s, f.mg));
  const Plan q = read_plan(same, f.s, f.mg, f.cost);
  std::filesystem::remove(same);
  EXPECT_EQ(q.notes, original.notes);
  EXPECT_DOUBLE_EQ(q.planned_s, original.planned_s);
}

}  // namespace
}  // namespace spindle::testing
