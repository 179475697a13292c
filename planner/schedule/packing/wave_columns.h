// The wave configurations ("columns") of one MetaLevel: a configuration runs some of the
// level's MetaOps, each on n valid devices for l whole layers, the n summing to at most N,
// and lasts as long as its longest slice. Holds each MetaOp's device options and times,
// column generation for the configuration LP (pricing: a multiple-choice knapsack per
// candidate span), and the conversions between configurations and waves.
#pragma once

#include <algorithm>
#include <map>
#include <tuple>
#include <vector>

#include "planner/schedule/allocator.h"
#include "planner/schedule/packing/covering_lp.h"
#include "planner/schedule/plan.h"

namespace spindle::packing {

struct Option {
  int n = 0;
  double t = 0;        // one operator on n devices
  bool useful = true;  // strictly faster than every narrower option
};

struct Part {
  int item = 0;
  int option = 0;
  int layers = 0;
  bool operator<(const Part& o) const {
    return std::tie(item, option, layers) < std::tie(o.item, o.option, o.layers);
  }
  bool operator==(const Part& o) const {
    return item == o.item && option == o.option && layers == o.layers;
  }
};
using Column = std::vector<Part>;  // sorted by item, at most one part per item

// The configurations of one level: each MetaOp's options (its valid device counts up to
// `gpus` and T(n) there), spans and device counts of columns, and column generation. Pricing
// counts the knapsack cells it evaluates; generate() stops once they pass the limit set.
class Packer {
 public:
  Packer(const std::vector<LevelItem>& items, int gpus);

  size_t size() const { return items_.size(); }
  int options(size_t i) const { return static_cast<int>(options_[i].size()); }
  const Option& option(const Part& p) const {
    return options_[static_cast<size_t>(p.item)][static_cast<size_t>(p.option)];
  }
  double span(const Column& c) const {
    double s = 0;
    for (const Part& p : c) s = std::max(s, p.layers * option(p).t);
    return s;
  }
  double total_span(const std::vector<Column>& waves) const {
    double s = 0;
    for (const Column& c : waves) s += span(c);
    return s;
  }
  int devices(const Column& c) const {
    int d = 0;
    for (const Part& p : c) d += option(p).n;
    return d;
  }
  static Column cap(const Column& c, const std::vector<int>& left) {
    Column out;
    for (Part p : c) {
      p.layers = std::min(p.layers, left[static_cast<size_t>(p.item)]);
      if (p.layers > 0) out.push_back(p);
    }
    return out;
  }
  // The option of item `i` on `n` devices, or the narrowest one at least as fast.
  int option_of(size_t i, int n) const;
  Column single(size_t i, int layers) const;
  // Knapsack cells one pricing over all spans would take for `left`.
  double pricing_cells(const std::vector<int>& left) const;
  double cells_used() const { return cells_; }
  void set_limit(double cells) { limit_ = cells; }
  double limit() const { return limit_; }

  // Every span at which some MetaOp's layers in a wave change (l x T(n) for its useful
  // options), and at each the layers every option fits: independent of the duals, so one
  // table serves a whole column generation.
  struct SpanTable {
    std::vector<double> spans;
    // spans x items x max options: the layers an option fits; 0 where it is not useful or
    // fits no more than a narrower one
    std::vector<int> layers;
    int width = 0;  // max options
  };
  SpanTable span_table(const std::vector<int>& left) const;

  // The column with the largest reduced cost sum_i y_i l_i - span (> tolerance), or empty.
  // Spans are tried in the order of an upper bound on their knapsack (its LP relaxation:
  // per MetaOp the upper concave hull of value over devices, filled by slope), stopping
  // once the bound cannot beat the best found.
  Column price(const std::vector<double>& y, const SpanTable& tab);

  struct Master {
    std::vector<Column> cols;
    LpSolution lp;
    bool converged = false;
  };

  // Column generation for the layers `left`, starting from `seed` (capped to `left`) and one
  // single-MetaOp column per MetaOp; every column is also kept in `pool`.
  Master generate(const std::vector<int>& left, const std::vector<Column>& seed,
                  std::map<Column, double>& pool);

 private:
  const std::vector<LevelItem>& items_;
  int gpus_;
  std::vector<std::vector<Option>> options_;
  double cells_ = 0;
  double limit_ = 0;
};

// Index of each MetaOp id among `items`.
std::map<int, size_t> item_index(const std::vector<LevelItem>& items);

// Waves as configurations (a wave running a MetaOp twice is an internal error).
std::vector<Column> columns_of(const Packer& pk, const std::map<int, size_t>& item_of,
                               const std::vector<Wave>& waves);

// Appends the configurations as waves from `start_s` (layers in order, identical
// consecutive waves merged); returns the end.
double emit_waves(const Packer& pk, const std::vector<LevelItem>& items,
                  const std::vector<Column>& cols, double start_s, std::vector<Wave>& out);

}  // namespace spindle::packing
