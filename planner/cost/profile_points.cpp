// Profile matching and operator times from measured points (see profile_points.h).
#include "planner/cost/profile_points.h"

#include <algorithm>
#include <cmath>

#include "traces/errors.h"
#include "traces/names.h"

namespace spindle {

bool name_matches(const std::string& pattern, const std::string& name) {
  // Iterative glob with '*' only: remember the last star and retry after it.
  size_t p = 0, n = 0, star = std::string::npos, mark = 0;
  while (n < name.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = n;
    } else if (p < pattern.size() && pattern[p] == name[n]) {
      ++p;
      ++n;
    } else if (star != std::string::npos) {
      p = star + 1;
      n = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

void check_profile_device(const Profile& profile, const GpuSpec& gpu, const std::string& scenario_file) {
  const std::string where = profile.source.empty() ? "" : profile.source + ": ";
  std::string names;
  for (const std::string& n : gpu.reported_names) names += (names.empty() ? "'" : ", '") + printable(n) + "'";
  const std::string device = "'" + printable(profile.device) + "' (backend " + printable(profile.backend) + ")";
  const std::string runs_on = scenario_file + " runs on " + gpu.name + " (" + gpu.id + ".toml: backend " + gpu.backend +
                              ", " + gpu.compute_dtype + ", reported as " + names + ")";
  if (profile.backend != gpu.backend)
    throw InputError(where + "profile measured on " + device + " but " + runs_on +
                     "; allowed: a profile measured with the device's backend");
  const bool named = std::any_of(gpu.reported_names.begin(), gpu.reported_names.end(),
                                 [&](const std::string& p) { return name_matches(p, profile.device); });
  if (!named)
    throw InputError(where + "profile measured on " + device + " but " + runs_on +
                     "; allowed: a profile of a device the device file's reported_names list");
  std::vector<std::string> dtypes;  // of the operators (the optimizer's rows are fp32 whatever they ran with)
  for (const auto& [key, m] : profile.ops)
    if (key.kind != kOptimizerKind && std::find(dtypes.begin(), dtypes.end(), key.dtype) == dtypes.end())
      dtypes.push_back(key.dtype);
  if (!dtypes.empty()) {
    if (std::find(dtypes.begin(), dtypes.end(), gpu.compute_dtype) == dtypes.end()) {
      std::string all;
      for (const std::string& d : dtypes) all += (all.empty() ? "" : ", ") + printable(d);
      throw InputError(where + "profile's operators were measured in " + all + " but " + runs_on +
                       "; allowed: a profile with operators measured in " + gpu.compute_dtype);
    }
  }
}

namespace {

std::vector<CurvePiece> fit(const std::vector<std::int64_t>& b, const std::vector<double>& t, double tolerance,
                            size_t skip = static_cast<size_t>(-1)) {
  std::vector<FitSample> s;
  for (size_t i = 0; i < b.size(); ++i)
    if (i != skip) s.push_back(FitSample{static_cast<double>(b[i]), t[i]});
  return fit_alpha_beta(s, tolerance);
}

// t (ms) of a backward that was not measured (0: a loss without backward) stays 0.
bool all_zero(const std::vector<double>& t) {
  return std::all_of(t.begin(), t.end(), [](double v) { return v == 0; });
}

}  // namespace

BatchCurve::BatchCurve(const std::vector<const OpMeasurement*>& ascending, double tolerance) : tolerance_(tolerance) {
  if (ascending.empty()) throw InternalError("batch curve without measurements");
  for (const OpMeasurement* m : ascending) {
    if (!batches_.empty() && m->key.batch <= batches_.back()) throw InternalError("batch curve: batches not ascending");
    batches_.push_back(m->key.batch);
    fwd_.push_back(m->fwd_ms);
    bwd_.push_back(m->bwd_ms);
  }
  fwd_pieces_ = fit(batches_, fwd_, tolerance);
  if (!all_zero(bwd_)) {
    // A backward measured at some batches only cannot be fitted: treat a 0 as not measured.
    if (std::any_of(bwd_.begin(), bwd_.end(), [](double v) { return v == 0; }))
      throw InputError(ascending.front()->key.str() + ": backward measured at some batches only; allowed: bwd_ms "
                       "0 at every batch of a shape (no backward) or at none");
    bwd_pieces_ = fit(batches_, bwd_, tolerance);
  }
}

double BatchCurve::value(const std::vector<double>& t, const std::vector<CurvePiece>& pieces, std::int64_t batch) const {
  if (pieces.empty()) return 0;
  const auto it = std::lower_bound(batches_.begin(), batches_.end(), batch);
  const size_t i = static_cast<size_t>(it - batches_.begin());
  if (it != batches_.end() && *it == batch) return t[i];
  if (i == 0) return t.front();  // below the smallest: its time
  const double b = static_cast<double>(batch);
  if (i == batches_.size()) {    // above the largest: the last piece's line
    const CurvePiece& last = pieces.back();
    const double from = static_cast<double>(batches_.back());
    if (last.w_from < from && last.beta > 0) return t.back() + last.beta * (b - from);
    return t.back() * b / from;
  }
  return between(batches_, t, pieces, i, b);
}

double BatchCurve::between(const std::vector<std::int64_t>& batches, const std::vector<double>& t,
                           const std::vector<CurvePiece>& pieces, size_t i, double b) {
  // Inside one piece its line; across two pieces (or where a line dips to zero) the
  // alpha-beta segment of the two measured neighbours.
  const double b0 = static_cast<double>(batches[i - 1]), b1 = static_cast<double>(batches[i]);
  if (piece_at(pieces, b0) == piece_at(pieces, b1)) {
    const double v = piece_value(pieces, b);
    if (v > 0 && std::isfinite(v)) return v;
  }
  return t[i - 1] + (t[i] - t[i - 1]) * (b - b0) / (b1 - b0);
}

BatchCurve::Value BatchCurve::at(std::int64_t batch) const {
  Value v;
  v.fwd_ms = value(fwd_, fwd_pieces_, batch);
  v.bwd_ms = value(bwd_, bwd_pieces_, batch);
  const bool measured = std::binary_search(batches_.begin(), batches_.end(), batch);
  v.source = measured ? PointSource::kMeasured
             : batch > batches_.front() && batch < batches_.back() ? PointSource::kInterpolated
                                                                    : PointSource::kExtrapolated;
  return v;
}

double BatchCurve::fit_error() const {
  double e = 0;
  for (size_t i = 0; i < batches_.size(); ++i) {
    const double b = static_cast<double>(batches_[i]);
    e = std::max(e, std::abs(piece_value(fwd_pieces_, b) - fwd_[i]) / fwd_[i]);
    if (!bwd_pieces_.empty()) e = std::max(e, std::abs(piece_value(bwd_pieces_, b) - bwd_[i]) / bwd_[i]);
  }
  return e;
}

double BatchCurve::leave_one_out_error() const {
  double e = 0;
  for (size_t i = 1; i + 1 < batches_.size(); ++i) {
    std::vector<std::int64_t> b = batches_;
    b.erase(b.begin() + static_cast<std::ptrdiff_t>(i));
    for (const auto* t : {&fwd_, &bwd_}) {
      if (t == &bwd_ && bwd_pieces_.empty()) continue;
      std::vector<double> rest = *t;
      rest.erase(rest.begin() + static_cast<std::ptrdiff_t>(i));
      const std::vector<CurvePiece> pieces = fit(b, rest, tolerance_);
      const double v = between(b, rest, pieces, i, static_cast<double>(batches_[i]));  // as at() would
      e = std::max(e, std::abs(v - (*t)[i]) / (*t)[i]);
    }
  }
  return e;
}

OpShapeKey optimizer_key(std::int64_t elements) {
  OpShapeKey k;
  k.kind = kOptimizerKind;
  k.dtype = "fp32";
  k.seq = 1;  // a shape [elements, 1, 1]
  k.hidden = 1;
  k.batch = elements;
  return k;
}

ProfilePoints::ProfilePoints(const Profile& profile) {
  std::vector<const OpMeasurement*> run;
  auto flush = [&] {
    if (run.empty()) return;
    OpShapeKey shape = run.front()->key;
    shape.batch = 0;
    try {
      curves_.emplace(shape, BatchCurve(run));
    } catch (const InputError& e) {
      throw InputError(profile.source + ": /ops " + e.what());
    }
    run.clear();
  };
  for (const auto& [key, m] : profile.ops) {  // key order: a shape's batches are adjacent, ascending
    if (!run.empty() && !run.front()->key.same_shape(key)) flush();
    run.push_back(&m);
  }
  flush();
}

BatchCurve::Value ProfilePoints::at(const OpShapeKey& key) const {
  OpShapeKey shape = key;
  shape.batch = 0;
  const auto it = curves_.find(shape);
  if (it == curves_.end()) return {};
  return it->second.at(key.batch);
}

}  // namespace spindle
