// Communication between logical devices (threads): send/recv, all-reduce, reduce-scatter and
// all-gather over a group that is not every device, with the same bits on every member; the
// same through host staging (host_staged_comm.h, what device-memory backends use) and on bf16
// tensors (moved as stored, summed in fp32).
#include <gtest/gtest.h>

#include <thread>

#include "engine/comm/host_staged_comm.h"
#include "engine/comm/thread_comm.h"
#include "engine/cpu/cpu_backend.h"

namespace spindle::engine::test {
namespace {

std::vector<float> read(Backend& be, const Tensor& t) {
  std::vector<float> v(static_cast<size_t>(t.numel()));
  be.download(t, v);
  return v;
}

class ThreadComms : public ::testing::TestWithParam<std::tuple<bool, DType>> {};

TEST_P(ThreadComms, PointToPointAndCollectives) {
  // Named, not bound: clang 14 lets no lambda capture a structured binding.
  const bool staged = std::get<0>(GetParam());
  const DType dtype = std::get<1>(GetParam());
  const int n = 4;
  ThreadWorld world(n);
  const std::vector<int> group{3, 1, 2};  // device 0 stays out; group order is not id order
  std::vector<std::vector<float>> reduced(n), scattered(n), gathered(n), received(n), broadcast(n);
  auto body = [&](int dev) {
    CpuBackend be;
    be.set_activation_dtype(dtype);  // be.alloc(shape) below: dtype
    auto comm = staged ? host_staged(world.communicator(dev), be) : world.communicator(dev);
    // A ring of sends: device d sends d*10 + [0, 1] to d+1.
    Tensor out = be.alloc({2});
    be.upload(out, std::vector<float>{dev * 10.0f, dev * 10.0f + 1});
    comm->send((dev + 1) % n, 7, 0, out);
    Tensor in = be.alloc({2});
    comm->recv((dev + n - 1) % n, 7, 0, in);
    received[static_cast<size_t>(dev)] = read(be, in);
    if (dev == 0) return;
    Tensor t = be.alloc({3});
    be.upload(t, std::vector<float>{1.0f * dev, 2.0f * dev, 0.1f});
    comm->all_reduce(group, t);
    reduced[static_cast<size_t>(dev)] = read(be, t);
    Tensor rs_in = be.alloc({6}), rs_out = be.alloc({2});
    be.upload(rs_in, std::vector<float>{1, 2, 3, 4, 5, 6});
    be.scale(rs_in, static_cast<float>(dev));
    comm->reduce_scatter(group, rs_in, rs_out);
    scattered[static_cast<size_t>(dev)] = read(be, rs_out);
    Tensor ag_in = be.alloc({1}), ag_out = be.alloc({3});
    be.upload(ag_in, std::vector<float>{static_cast<float>(dev)});
    comm->all_gather(group, ag_in, ag_out);
    gathered[static_cast<size_t>(dev)] = read(be, ag_out);
    Tensor bc = be.alloc({2});  // from device 1, the group's second member
    be.upload(bc, std::vector<float>{dev * 1.5f, -1.0f * dev});
    comm->broadcast(group, 1, bc);
    broadcast[static_cast<size_t>(dev)] = read(be, bc);
  };
  std::vector<std::thread> threads;
  for (int d = 0; d < n; ++d) threads.emplace_back(body, d);
  for (auto& t : threads) t.join();
  for (int d = 0; d < n; ++d)
    EXPECT_EQ(received[static_cast<size_t>(d)], (std::vector<float>{((d + n - 1) % n) * 10.0f, ((d + n - 1) % n) * 10.0f + 1}));
  // Summed in group order in fp32; bf16 holds 0.1 as 0.10009765625 and rounds the sum once.
  const float one = dtype == DType::kBF16 ? 0.10009765625f : 0.1f;
  const float tenth = dtype == DType::kBF16 ? 0.30078125f : (one + one) + one;
  for (int d : group) {
    EXPECT_EQ(reduced[static_cast<size_t>(d)], (std::vector<float>{6, 12, tenth}));
    EXPECT_EQ(gathered[static_cast<size_t>(d)], (std::vector<float>{3, 1, 2}));
    EXPECT_EQ(broadcast[static_cast<size_t>(d)], (std::vector<float>{1.5f, -1.0f}));
  }
  // Chunk r of the sum 6 x [1..6] goes to the r-th member of the group (3, 1, 2).
  EXPECT_EQ(scattered[3], (std::vector<float>{6, 12}));
  EXPECT_EQ(scattered[1], (std::vector<float>{18, 24}));
  EXPECT_EQ(scattered[2], (std::vector<float>{30, 36}));
}

INSTANTIATE_TEST_SUITE_P(Engine, ThreadComms,
                         ::testing::Combine(::testing::Bool(), ::testing::Values(DType::kF32, DType::kBF16)),
                         [](const auto& p) {
                           return std::string(std::get<0>(p.param) ? "staged_" : "direct_") +
                                  dtype_name(std::get<1>(p.param));
                         });

}  // namespace
}  // namespace spindle::engine::test
