// The equivalence check of a distributed execution against the one-device reference: the
// reference runs every task's full batch forward and backward through Model (no planner, no
// lowering); the executor runs the lowered programs of a placed plan on logical devices.
// Per-task losses and every weight's synced gradient (before clipping) must match within
// ||diff|| / ||ref|| <= 1e-5, replicas of a gradient must agree bitwise, every weight's
// replicas must be bitwise identical after the optimizer step, and every device must have
// processed its program's rows and sent its program's bytes.
#pragma once

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "engine/cpu/cpu_backend.h"
#include "engine/launch/thread_launcher.h"
#include "engine/model/model.h"
#include "engine/model/synthetic_data.h"
#include "planner/graph/graph_builder.h"

namespace spindle::engine::test {

inline constexpr double kRelativeTolerance = 1e-5;

struct Reference {
  std::vector<float> loss;
  std::map<std::string, std::vector<float>> grad;
};

inline Reference reference(const Scenario& s, std::uint64_t seed) {
  CpuBackend be;
  const Graph g = build_graph(s);
  Model model(s, g, be, seed);
  SyntheticData data(s, g, seed);
  Reference r;
  for (size_t t = 0; t < s.tasks.size(); ++t)
    r.loss.push_back(model.train_task(static_cast<int>(t), data.batch(static_cast<int>(t), 0)));
  for (auto& [name, p] : model.weights().params()) {
    std::vector<float>& v = r.grad[name];
    v.resize(static_cast<size_t>(p.grad.numel()));
    be.download(p.grad, v);
  }
  return r;
}

// Squared norm of the reference gradients of the weights named `prefix`*.
inline double ref_group_norm(const Reference& ref, const std::string& prefix) {
  double n = 0;
  for (const auto& [name, v] : ref.grad)
    if (name.starts_with(prefix))
      for (float x : v) n += static_cast<double>(x) * x;
  return n;
}

struct Agreement {
  double worst_loss = 0;  // largest relative loss difference
  double worst_grad = 0;  // largest relative gradient difference (per tensor)
  std::string worst_grad_name;
};

// Runs one iteration of `programs` on `backend`'s logical devices and checks it against the
// (CPU) reference within `tolerance`; returns the worst differences seen. `reference_key`, when
// given, names the model (the same scenario at the same scale on any device count gives the
// same reference): its reference is computed once per test process.
inline Agreement check_equivalence(const Scenario& s, const Programs& programs, const std::string& what,
                                   const std::string& reference_key = "", const std::string& backend = "cpu",
                                   double tolerance = kRelativeTolerance) {
  TrainOptions opt;
  opt.seed = 7;
  static std::map<std::string, Reference> cache;
  Reference own;
  const Reference* shared = nullptr;
  if (reference_key.empty()) {
    own = reference(s, opt.seed);
  } else {
    auto it = cache.find(reference_key);
    if (it == cache.end()) it = cache.emplace(reference_key, reference(s, opt.seed)).first;
    shared = &it->second;
  }
  const Reference& ref = shared ? *shared : own;  // the cached one is not copied
  ThreadLauncher ex(s, programs, backend, opt);
  ex.keep_gradients(true);
  const StepResult r = ex.step();
  Agreement a;
  for (size_t t = 0; t < s.tasks.size(); ++t) {
    const double rel = std::abs(r.task_loss[t] - ref.loss[t]) / std::abs(ref.loss[t]);
    a.worst_loss = std::max(a.worst_loss, rel);
    EXPECT_LE(rel, tolerance) << what << ": task " << s.tasks[t].name << " loss " << r.task_loss[t]
                                       << " vs reference " << ref.loss[t];
  }
  // Gradients: each element from a device holding it reduced; replicas must agree bitwise.
  for (const auto& [name, want] : ref.grad) {
    std::vector<float> got(want.size(), 0.0f);
    std::vector<int> holders(want.size(), 0);
    for (int d = 0; d < ex.devices(); ++d) {
      const GradientSnapshot& snap = ex.rank(d).gradients();
      auto it = snap.grad.find(name);
      if (it == snap.grad.end()) continue;
      for (auto [first, last] : snap.valid.at(name))
        for (auto i = static_cast<size_t>(first); i < static_cast<size_t>(last); ++i) {
          if (holders[i]++ > 0 && std::bit_cast<std::uint32_t>(got[i]) != std::bit_cast<std::uint32_t>(it->second[i])) {
            ADD_FAILURE() << what << ": replicas of the gradient of " << name << " differ at " << i;
            return a;
          }
          got[i] = it->second[i];
        }
    }
    double diff = 0, norm = 0;
    for (size_t i = 0; i < want.size(); ++i) {
      if (holders[i] == 0) {
        ADD_FAILURE() << what << ": no device holds element " << i << " of " << name;
        return a;
      }
      diff += (static_cast<double>(got[i]) - want[i]) * (static_cast<double>(got[i]) - want[i]);
      norm += static_cast<double>(want[i]) * want[i];
    }
    // A key bias shifts every logit of a query's row alike, which softmax ignores: its exact
    // gradient is zero and both sides hold rounding noise. It is measured against the
    // gradient of its whole weight group ("vision/layer0") instead.
    if (name.ends_with(".bk")) norm = ref_group_norm(ref, name.substr(0, name.rfind('/') + 1));
    const double rel = norm > 0 ? std::sqrt(diff / norm) : std::sqrt(diff);
    if (rel > a.worst_grad) {
      a.worst_grad = rel;
      a.worst_grad_name = name;
    }
    EXPECT_LE(rel, tolerance) << what << ": gradient of " << name;
  }
  // After the step: every replica of a weight bitwise identical.
  std::map<std::string, std::pair<int, std::vector<float>>> first_copy;
  for (int d = 0; d < ex.devices(); ++d)
    for (auto& [name, p] : ex.rank(d).weights().params()) {
      std::vector<float> v(static_cast<size_t>(p.value.numel()));
      ex.rank(d).backend().download(p.value, v);
      auto [it, fresh] = first_copy.try_emplace(name, d, v);
      if (!fresh) {
        EXPECT_EQ(0, std::memcmp(v.data(), it->second.second.data(), v.size() * 4))
            << what << ": " << name << " differs between devices " << it->second.first << " and " << d;
      }
    }
  // Counters against the program.
  for (int d = 0; d < ex.devices(); ++d) {
    std::int64_t fwd = 0, bwd = 0, bytes = 0, sends = 0, recvs = 0, recv_bytes = 0;
    for (const Instr& in : programs.devices[static_cast<size_t>(d)].instrs) {
      const std::int64_t rows = static_cast<std::int64_t>(in.last_row - in.first_row) * (in.last_layer - in.first_layer);
      if (in.kind == InstrKind::kForward) fwd += rows;
      if (in.kind == InstrKind::kBackward) bwd += rows;
      if (in.kind == InstrKind::kSend) {
        bytes += in.bytes;
        ++sends;
      }
      if (in.kind == InstrKind::kRecv) {
        recv_bytes += in.bytes;
        ++recvs;
      }
    }
    const DeviceCounters& c = ex.rank(d).counters();
    EXPECT_EQ(c.forward_rows, fwd) << what << ": device " << d;
    EXPECT_EQ(c.backward_rows, bwd) << what << ": device " << d;
    // The program counts its activation_bytes per element; the engine moves its storage's.
    const std::int64_t element = dtype_bytes(ex.rank(d).backend().activation_dtype());
    const std::int64_t counted = programs.activation_bytes;
    EXPECT_EQ(c.sent_bytes, bytes / counted * element) << what << ": device " << d;
    EXPECT_EQ(c.recv_bytes, recv_bytes / counted * element) << what << ": device " << d;
    EXPECT_EQ(c.sends, sends) << what << ": device " << d;
    EXPECT_EQ(c.recvs, recvs) << what << ": device " << d;
  }
  return a;
}

}  // namespace spindle::engine::test
