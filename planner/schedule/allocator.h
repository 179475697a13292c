// Spindle's allocator for one MetaLevel (Spindle paper, arXiv 2409.03365): the malleable project scheduling
// relaxation gives every MetaOp a constant real device count n* with T_m(n*) x L_m = C* and
// sum n* = N (Theorem 1; C* by bisection). Bi-point discretisation then turns n* into at most
// two pieces on the nearest valid device counts, splitting the layers so both still finish
// by C*.
#pragma once

#include <vector>

#include "planner/cost/scaling_curve.h"

namespace spindle {

struct LevelItem {
  int metaop = 0;
  int L = 0;
  const ScalingCurve* curve = nullptr;
  std::vector<int> valid_n;  // ascending
};

// A run of consecutive layers of one MetaOp on a fixed device count.
struct Piece {
  int metaop = 0;
  int first_layer = 0;
  int layers = 0;
  int n = 0;
};

struct LevelAllocation {
  double cstar_s = 0;
  std::vector<double> n_star;  // per item, real
  std::vector<Piece> pieces;   // per item in order; a MetaOp's pieces in layer order
};

// min { n > 0 : T(n) <= t }: below one device T(n) = T(1)/n, so t >= T(1) gives T(1)/t;
// +infinity when even the largest valid n is slower than t.
double inverse_time(const ScalingCurve& curve, double t);

LevelAllocation allocate_level(const std::vector<LevelItem>& items, int gpus);

// The level's optimum when device counts must be valid: each MetaOp may mix its valid counts
// over time (and idle), but not use 1.5 devices. For a target C, MetaOp m needs the rate
// L_m / C layers per second; the least devices giving that rate is the lower convex hull of
// its points (1/T(n), n) and the origin. C*_valid = min C with sum of those <= N (bisection).
// A lower bound for every level-barrier schedule with valid counts; >= C*.
double valid_count_cstar(const std::vector<LevelItem>& items, int gpus);

}  // namespace spindle
