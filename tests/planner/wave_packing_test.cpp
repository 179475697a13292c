// The covering LP/IP solver against optimality certificates and brute force, and the wave
// packing of a MetaLevel: its column generation against an LP over every configuration of a
// small level, its schedules valid, deterministic and never slower than the schedule it
// starts from, its LP bound between C*valid and the schedule.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <map>
#include <random>
#include <set>

#include "planner/config/scenario.h"
#include "planner/schedule/allocator.h"
#include "planner/schedule/bounds.h"
#include "planner/schedule/packing/covering_lp.h"
#include "planner/schedule/packing/wave_moves.h"
#include "planner/schedule/packing/wave_packing.h"
#include "planner/schedule/systems.h"
#include "planner/schedule/wavefront.h"
#include "test_scenarios.h"
#include "traces/errors.h"

namespace spindle::testing {
namespace {

// Primal feasible, dual feasible and equal objectives: an optimality certificate.
void expect_optimal(const CoveringProgram& p, const LpSolution& s, const std::string& what) {
  ASSERT_EQ(s.status, LpStatus::kOptimal) << what;
  double cx = 0, by = 0;
  for (size_t j = 0; j < p.cost.size(); ++j) {
    EXPECT_GE(s.x[j], -1e-9) << what;
    cx += p.cost[j] * s.x[j];
    double ya = 0;
    for (size_t i = 0; i < p.demand.size(); ++i) ya += s.dual[i] * p.column[j][i];
    EXPECT_GE(p.cost[j] - ya, -1e-9 * (1 + p.cost[j])) << what << ": column " << j << " prices out";
    EXPECT_NEAR(s.reduced_cost[j], p.cost[j] - ya, 1e-9 * (1 + p.cost[j])) << what;
  }
  for (size_t i = 0; i < p.demand.size(); ++i) {
    double ax = 0;
    for (size_t j = 0; j < p.cost.size(); ++j) ax += p.column[j][i] * s.x[j];
    EXPECT_GE(ax, p.demand[i] - 1e-7) << what << ": row " << i << " uncovered";
    EXPECT_GE(s.dual[i], 0) << what;
    by += p.demand[i] * s.dual[i];
  }
  EXPECT_NEAR(cx, s.objective, 1e-9 * (1 + cx)) << what;
  EXPECT_NEAR(cx, by, 1e-8 * (1 + cx)) << what << ": duality gap";
}

TEST(CoveringLp, SmallProgramByHand) {
  // min x1 + x2 : x1 + 2 x2 >= 4, 3 x1 + x2 >= 6 -> x = (8/5, 6/5), 14/5, duals (2/5, 1/5).
  CoveringProgram p{{1, 1}, {{1, 3}, {2, 1}}, {4, 6}};
  LpSolution s = solve_covering_lp(p);
  expect_optimal(p, s, "by hand");
  EXPECT_NEAR(s.objective, 2.8, 1e-12);
  EXPECT_NEAR(s.x[0], 1.6, 1e-12);
  EXPECT_NEAR(s.x[1], 1.2, 1e-12);
  EXPECT_NEAR(s.dual[0], 0.4, 1e-12);
  EXPECT_NEAR(s.dual[1], 0.2, 1e-12);
  // x2 <= 1: x1 >= 2 -> 3. x1 >= 3: x2 >= 1/2 -> 3.5. Both capped at 0: infeasible.
  EXPECT_NEAR(solve_covering_lp(p, {}, {INFINITY, 1}).objective, 3.0, 1e-12);
  EXPECT_NEAR(solve_covering_lp(p, {3, 0}, {}).objective, 3.5, 1e-12);
  // With bounds the reduced costs still leave out the bound rows' duals: c - dual.A.
  const LpSolution capped = solve_covering_lp(p, {}, {INFINITY, 1});
  for (size_t j = 0; j < 2; ++j)
    EXPECT_NEAR(capped.reduced_cost[j],
                p.cost[j] - capped.dual[0] * p.column[j][0] - capped.dual[1] * p.column[j][1],
                1e-12);
  EXPECT_LT(capped.reduced_cost[1], 0);  // x2 would pay, the bound holds it back
  EXPECT_EQ(solve_covering_lp(p, {}, {0, 0}).status, LpStatus::kInfeasible);
  EXPECT_EQ(solve_covering_lp(p, {2, 0}, {1, INFINITY}).status, LpStatus::kInfeasible);
}

TEST(CoveringLp, RandomProgramsCarryACertificate) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 300; ++trial) {
    const int m = 1 + static_cast<int>(rng() % 8), n = 1 + static_cast<int>(rng() % 40);
    CoveringProgram p;
    for (int i = 0; i < m; ++i) p.demand.push_back(static_cast<double>(rng() % 30));
    for (int j = 0; j < n; ++j) {
      std::vector<double> col;
      for (int i = 0; i < m; ++i)
        col.push_back(rng() % 3 == 0 ? 0.0 : static_cast<double>(rng() % 12));
      p.column.push_back(col);
      p.cost.push_back(1e-4 + static_cast<double>(rng() % 1000) * 1e-5);  // seconds, as spans are
    }
    for (int i = 0; i < m; ++i) {  // every row coverable
      std::vector<double> col(static_cast<size_t>(m), 0.0);
      col[static_cast<size_t>(i)] = 1;
      p.column.push_back(col);
      p.cost.push_back(0.02);
    }
    expect_optimal(p, solve_covering_lp(p), "trial " + std::to_string(trial));
    if (::testing::Test::HasFailure()) return;
  }
}

// Column generation's master: columns added one by one, each solve warm-started, is optimal
// after every addition (a certificate each time) and agrees with a solve from scratch.
TEST(CoveringLp, MasterStaysOptimalAsColumnsArrive) {
  std::mt19937 rng(5);
  for (int trial = 0; trial < 60; ++trial) {
    const int m = 1 + static_cast<int>(rng() % 8);
    CoveringProgram p;
    for (int i = 0; i < m; ++i) p.demand.push_back(static_cast<double>(1 + rng() % 30));
    CoveringMaster master(p.demand);
    auto add = [&](std::vector<double> col, double cost) {
      master.add_column(cost, col);
      p.column.push_back(std::move(col));
      p.cost.push_back(cost);
    };
    for (int i = 0; i < m; ++i) {  // every row coverable from the start
      std::vector<double> col(static_cast<size_t>(m), 0.0);
      col[static_cast<size_t>(i)] = 1;
      add(col, 0.02);
    }
    for (int j = 0; j < 30; ++j) {
      std::vector<double> col;
      for (int i = 0; i < m; ++i) col.push_back(rng() % 3 == 0 ? 0.0 : static_cast<double>(rng() % 12));
      add(col, 1e-4 + static_cast<double>(rng() % 1000) * 1e-5);
      const std::string what = "trial " + std::to_string(trial) + ", column " + std::to_string(j);
      const LpSolution warm = master.solve();
      expect_optimal(p, warm, what);
      EXPECT_NEAR(warm.objective, solve_covering_lp(p).objective, 1e-9 * (1 + warm.objective)) << what;
      if (::testing::Test::HasFailure()) return;
    }
  }
  EXPECT_THROW(CoveringMaster({1.0}).add_column(-1.0, {1.0}), InternalError);
  EXPECT_THROW(CoveringMaster({1.0}).add_column(1.0, {1.0, 2.0}), InternalError);
}

TEST(CoveringIp, MatchesBruteForce) {
  std::mt19937 rng(11);
  for (int trial = 0; trial < 150; ++trial) {
    const int m = 1 + static_cast<int>(rng() % 3), n = 2 + static_cast<int>(rng() % 4);
    CoveringProgram p;
    for (int i = 0; i < m; ++i) p.demand.push_back(static_cast<double>(1 + rng() % 6));
    for (int j = 0; j < n; ++j) {
      std::vector<double> col;
      for (int i = 0; i < m; ++i) col.push_back(static_cast<double>(rng() % 4));
      p.column.push_back(col);
      p.cost.push_back(1.0 + static_cast<double>(rng() % 97) / 10);
    }
    std::vector<double> ones(static_cast<size_t>(m), 1.0);
    p.column.push_back(ones);
    p.cost.push_back(20);
    const size_t cols = p.cost.size();
    // Brute force over 0..6 copies of each column.
    double best = INFINITY;
    std::vector<long> x(cols, 0);
    std::function<void(size_t)> rec = [&](size_t j) {
      if (j == cols) {
        double c = 0;
        for (size_t i = 0; i < p.demand.size(); ++i) {
          double a = 0;
          for (size_t k = 0; k < cols; ++k) a += p.column[k][i] * static_cast<double>(x[k]);
          if (a < p.demand[i]) return;
        }
        for (size_t k = 0; k < cols; ++k) c += p.cost[k] * static_cast<double>(x[k]);
        best = std::min(best, c);
        return;
      }
      for (long v = 0; v <= 6; ++v) {
        x[j] = v;
        rec(j + 1);
      }
      x[j] = 0;
    };
    rec(0);
    const IpSolution ip = solve_covering_ip(p, {}, 100000);
    ASSERT_TRUE(ip.found) << trial;
    EXPECT_TRUE(ip.proven_optimal) << trial;
    EXPECT_NEAR(ip.objective, best, 1e-9) << "trial " << trial;
    EXPECT_LE(ip.lp_bound, ip.objective + 1e-9);
    // From an incumbent (all of the last column) the same optimum, never worse.
    std::vector<long> inc(cols, 0);
    inc.back() = static_cast<long>(*std::max_element(p.demand.begin(), p.demand.end()));
    const IpSolution from = solve_covering_ip(p, inc, 100000);
    EXPECT_NEAR(from.objective, best, 1e-9) << "trial " << trial;
    // A node limit of one still returns the incumbent or better.
    EXPECT_LE(solve_covering_ip(p, inc, 1).objective,
              20.0 * static_cast<double>(inc.back()) + 1e-9);
    if (::testing::Test::HasFailure()) return;
  }
}

// T(n) = a / n + b at the divisors of `batch`: a fixed overhead makes wide pieces wasteful.
ScalingCurve overhead_curve(double a, double b, int batch) {
  std::vector<CurvePoint> pts;
  for (int n = 1; n <= batch; ++n)
    if (batch % n == 0) pts.push_back(CurvePoint{n, a / n + b, 0, 0, false, 0});
  return ScalingCurve(pts, batch);
}

// Every MetaOp's layers once and in order, at most one slice per MetaOp and at most `gpus`
// devices per wave, slice times l x T(n), waves back to back from `start`; returns the end.
double check_level(const std::vector<LevelItem>& items, int gpus, double start,
                   const std::vector<Wave>& waves) {
  std::map<int, int> next;
  double now = start;
  for (const Wave& w : waves) {
    EXPECT_NEAR(w.start_s, now, 1e-12);
    int devices = 0;
    std::set<int> seen;
    for (const Slice& s : w.slices) {
      EXPECT_TRUE(seen.insert(s.metaop).second)
          << "two slices of MetaOp " << s.metaop << " in a wave";
      const LevelItem* it = nullptr;
      for (const LevelItem& i : items)
        if (i.metaop == s.metaop) it = &i;
      EXPECT_NE(it, nullptr);
      if (!it) return 0;
      EXPECT_NE(std::find(it->valid_n.begin(), it->valid_n.end(), s.n), it->valid_n.end());
      EXPECT_EQ(s.first_layer, next[s.metaop]);
      EXPECT_GT(s.layers(), 0);
      next[s.metaop] = s.last_layer;
      EXPECT_NEAR(s.end_s - s.start_s, s.layers() * it->curve->time_s(s.n), 1e-12);
      EXPECT_LE(s.end_s, w.end_s + 1e-15);
      devices += s.n;
    }
    EXPECT_LE(devices, gpus);
    now = w.end_s;
  }
  for (const LevelItem& i : items) EXPECT_EQ(next[i.metaop], i.L) << "MetaOp " << i.metaop;
  return now;
}

TEST(WavePacking, ColumnGenerationMatchesEveryConfiguration) {
  // Four MetaOps on 6 devices: the LP over every configuration, enumerated, equals the
  // LP bound column generation reaches.
  ScalingCurve a = overhead_curve(4.0, 0.5, 6), b = overhead_curve(2.0, 0.2, 6),
               c = overhead_curve(1.0, 0.6, 2), d = overhead_curve(3.0, 0.1, 3);
  const std::vector<LevelItem> items = {level_item(0, 5, a), level_item(1, 4, b),
                                        level_item(2, 3, c), level_item(3, 4, d)};
  const int gpus = 6;
  CoveringProgram full;
  for (const LevelItem& it : items) full.demand.push_back(it.L);
  std::vector<std::pair<int, int>> choice(items.size());  // (n, l); n = 0: absent
  std::function<void(size_t, int)> rec = [&](size_t i, int used) {
    if (i == items.size()) {
      std::vector<double> col;
      double span = 0;
      for (size_t k = 0; k < items.size(); ++k) {
        col.push_back(choice[k].first ? choice[k].second : 0);
        if (choice[k].first)
          span = std::max(span, choice[k].second * items[k].curve->time_s(choice[k].first));
      }
      if (span > 0) {
        full.column.push_back(col);
        full.cost.push_back(span);
      }
      return;
    }
    choice[i] = {0, 0};
    rec(i + 1, used);
    for (int n : items[i].valid_n)
      if (used + n <= gpus)
        for (int l = 1; l <= items[i].L; ++l) {
          choice[i] = {n, l};
          rec(i + 1, used + n);
        }
  };
  rec(0, 0);
  ASSERT_GT(full.cost.size(), 5000u);
  const LpSolution lp = solve_covering_lp(full);
  ASSERT_EQ(lp.status, LpStatus::kOptimal);

  std::vector<Wave> seed;
  schedule_level_replanned(items, gpus, 0.0, seed, false, false);
  std::vector<Wave> out;
  WavePackingReport rep;
  const double end = pack_level_waves(items, gpus, 0.0, {&seed}, out, &rep);
  ASSERT_TRUE(rep.ran);
  ASSERT_TRUE(rep.lp_converged);
  EXPECT_NEAR(rep.lp_bound_s, lp.objective, 1e-9 * lp.objective);
  EXPECT_NEAR(check_level(items, gpus, 0.0, out), end, 1e-12);
  EXPECT_GE(end, lp.objective * (1 - 1e-9));
  // The integer optimum over every configuration is what a perfect search would find; this
  // level is small enough that the packing reaches it.
  std::vector<long> inc;
  const IpSolution best = solve_covering_ip(full, inc, 200000);
  ASSERT_TRUE(best.proven_optimal);
  EXPECT_NEAR(end, best.objective, 1e-9 * best.objective);
}

TEST(WavePacking, SameInputsSameWavesAndEmptyLevelsRefused) {
  LoadOptions o;
  o.overrides = {"cluster.nodes=1"};
  ScenarioModel pipe(load_scenario(default_data_dir() / "multitask-clip-4.toml", o));
  // Named, not bound: clang 14 lets no lambda capture a structured binding.
  [[maybe_unused]] Scenario& s = pipe.s;
  [[maybe_unused]] Graph& g = pipe.g;
  [[maybe_unused]] MetaGraph& mg = pipe.mg;
  [[maybe_unused]] CostModel& cost = pipe.cost;
  const std::vector<LevelItem> items = level_items(mg, cost, 2);
  std::vector<Wave> seed, a, b;
  schedule_level_replanned(items, 8, 0.0, seed, false, true);
  pack_level_waves(items, 8, 0.0, {&seed}, a, nullptr);
  pack_level_waves(items, 8, 0.0, {&seed}, b, nullptr);
  ASSERT_EQ(a.size(), b.size());
  for (size_t w = 0; w < a.size(); ++w) {
    EXPECT_EQ(a[w].start_s, b[w].start_s);
    EXPECT_EQ(a[w].end_s, b[w].end_s);
    ASSERT_EQ(a[w].slices.size(), b[w].slices.size());
    for (size_t k = 0; k < a[w].slices.size(); ++k) {
      EXPECT_EQ(a[w].slices[k].metaop, b[w].slices[k].metaop);
      EXPECT_EQ(a[w].slices[k].first_layer, b[w].slices[k].first_layer);
      EXPECT_EQ(a[w].slices[k].last_layer, b[w].slices[k].last_layer);
      EXPECT_EQ(a[w].slices[k].n, b[w].slices[k].n);
    }
  }
  std::vector<Wave> none, out;
  EXPECT_THROW(pack_level_waves({}, 8, 0.0, {&none}, out, nullptr), InternalError);
  EXPECT_THROW(pack_level_waves(items, 8, 0.0, {}, out, nullptr), InternalError);
}

TEST(WavePacking, ZooLevelsAreValidAndNeverSlowerThanTheirStart) {
  for (int nodes : {1, 2}) {
    LoadOptions o;
    o.overrides = {"cluster.nodes=" + std::to_string(nodes)};
    ScenarioModel pipe(load_scenario(default_data_dir() / "multitask-clip-7.toml", o));
    // Named, not bound: clang 14 lets no lambda capture a structured binding.
    [[maybe_unused]] Scenario& s = pipe.s;
    [[maybe_unused]] Graph& g = pipe.g;
    [[maybe_unused]] MetaGraph& mg = pipe.mg;
    [[maybe_unused]] CostModel& cost = pipe.cost;
    const int gpus = s.cluster.gpus();
    for (int level = 1; level <= mg.levels; ++level) {
      const std::string what =
          "clip-7 nodes=" + std::to_string(nodes) + " level " + std::to_string(level);
      const std::vector<LevelItem> items = level_items(mg, cost, level);
      std::vector<Wave> seed, other, polished, out;
      const double seed_end = schedule_level_replanned(items, gpus, 1.0, seed, true, true);
      schedule_level_replanned(items, gpus, 1.0, other, false, false, 3);
      polished = seed;
      const double polished_end = polish_level_waves(items, gpus, 1.0, polished);
      EXPECT_LE(polished_end, seed_end * (1 + 1e-12)) << what;
      EXPECT_NEAR(check_level(items, gpus, 1.0, polished), polished_end, 1e-12) << what;
      WavePackingReport rep;
      const double end = pack_level_waves(items, gpus, 1.0, {&polished, &other}, out, &rep);
      EXPECT_NEAR(check_level(items, gpus, 1.0, out), end, 1e-12) << what;
      EXPECT_LE(end, polished_end * (1 + 1e-12)) << what;
      ASSERT_TRUE(rep.ran) << what;
      if (rep.lp_converged) {
        // Every barrier-wave schedule is a fractional mix of configurations, which mixes
        // valid counts: C*valid <= LP bound <= the schedule.
        EXPECT_GE(rep.lp_bound_s, valid_count_cstar(items, gpus) * (1 - 1e-9)) << what;
        EXPECT_LE(rep.lp_bound_s, (end - 1.0) * (1 + 1e-9)) << what;
      }
    }
  }
}

}  // namespace
}  // namespace spindle::testing
