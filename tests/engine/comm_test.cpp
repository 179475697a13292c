// Communication between logical devices (threads): send/recv, all-reduce, reduce-scatter and
// all-gather over a group that is not every device, with the same bits on every member.
#include <gtest/gtest.h>

#include <thread>

#include "engine/comm/thread_comm.h"
#include "engine/cpu/cpu_backend.h"

namespace spindle::engine::test {
namespace {

TEST(ThreadComm, PointToPointAndCollectives) {
  const int n = 4;
  ThreadWorld world(n);
  const std::vector<int> group{3, 1, 2};  // device 0 stays out; group order is not id order
  std::vector<std::vector<float>> reduced(n), scattered(n), gathered(n), received(n);
  auto body = [&](int dev) {
    CpuBackend be;
    auto comm = world.communicator(dev);
    // A ring of sends: device d sends d*10 + [0, 1] to d+1.
    Tensor out = be.alloc({2});
    be.upload(out, std::vector<float>{dev * 10.0f, dev * 10.0f + 1});
    comm->send((dev + 1) % n, 7, out);
    Tensor in = be.alloc({2});
    comm->recv((dev + n - 1) % n, 7, in);
    received[static_cast<size_t>(dev)].assign(in.f32(), in.f32() + 2);
    if (dev == 0) return;
    Tensor t = be.alloc({3});
    be.upload(t, std::vector<float>{1.0f * dev, 2.0f * dev, 0.1f});
    comm->all_reduce(group, t);
    reduced[static_cast<size_t>(dev)].assign(t.f32(), t.f32() + 3);
    Tensor rs_in = be.alloc({6}), rs_out = be.alloc({2});
    be.upload(rs_in, std::vector<float>{1, 2, 3, 4, 5, 6});
    be.scale(rs_in, static_cast<float>(dev));
    comm->reduce_scatter(group, rs_in, rs_out);
    scattered[static_cast<size_t>(dev)].assign(rs_out.f32(), rs_out.f32() + 2);
    Tensor ag_in = be.alloc({1}), ag_out = be.alloc({3});
    be.upload(ag_in, std::vector<float>{static_cast<float>(dev)});
    comm->all_gather(group, ag_in, ag_out);
    gathered[static_cast<size_t>(dev)].assign(ag_out.f32(), ag_out.f32() + 3);
  };
  std::vector<std::thread> threads;
  for (int d = 0; d < n; ++d) threads.emplace_back(body, d);
  for (auto& t : threads) t.join();
  for (int d = 0; d < n; ++d)
    EXPECT_EQ(received[static_cast<size_t>(d)], (std::vector<float>{((d + n - 1) % n) * 10.0f, ((d + n - 1) % n) * 10.0f + 1}));
  const float tenth = (0.1f + 0.1f) + 0.1f;  // summed in group order
  for (int d : group) {
    EXPECT_EQ(reduced[static_cast<size_t>(d)], (std::vector<float>{6, 12, tenth}));
    EXPECT_EQ(gathered[static_cast<size_t>(d)], (std::vector<float>{3, 1, 2}));
  }
  // Chunk r of the sum 6 x [1..6] goes to the r-th member of the group (3, 1, 2).
  EXPECT_EQ(scattered[3], (std::vector<float>{6, 12}));
  EXPECT_EQ(scattered[1], (std::vector<float>{18, 24}));
  EXPECT_EQ(scattered[2], (std::vector<float>{30, 36}));
}

}  // namespace
}  // namespace spindle::engine::test
