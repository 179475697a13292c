// The NCCL communicator on one GPU (label gpu). NCCL refuses two ranks of one communicator on
// one GPU, so one GPU checks a world of one: collectives over a group of one (identities that
// still go through NCCL's kernels), sends to itself received through NCCL's grouped send and
// receive (in order per channel, holding a copy so that changing the tensor after the send
// changes nothing), in fp32 and bf16, and a collective queued by a thread on its own stream
// between fences on the side stream, as a rank's sync thread does. Several ranks need several
// GPUs: unverified here. Exits 77 (reported as skipped) without a CUDA device.
#include <cmath>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "engine/backend_registry.h"
#include "engine/comm/nccl_comm.h"
#include "traces/errors.h"

namespace {

using namespace spindle::engine;

int failures = 0;

void expect_equal(const std::string& what, const std::vector<float>& got, const std::vector<float>& want) {
  bool ok = got.size() == want.size();
  for (size_t i = 0; ok && i < got.size(); ++i) ok = got[i] == want[i];
  std::printf("%s %s\n", ok ? "ok  " : "FAIL", what.c_str());
  failures += !ok;
}

std::vector<float> values(std::int64_t n, float base) {
  std::vector<float> v(static_cast<size_t>(n));
  for (size_t i = 0; i < v.size(); ++i) v[i] = base + 0.25f * static_cast<float>(i % 64);  // exact in bf16
  return v;
}

Tensor filled(Backend& be, const Dims& shape, DType dtype, const std::vector<float>& v) {
  Tensor t = be.alloc(shape, dtype);
  be.upload(t, v);
  return t;
}

std::vector<float> read(Backend& be, const Tensor& t) {
  std::vector<float> v(static_cast<size_t>(t.numel()));
  be.download(t, v);
  return v;
}

void run_checks(Backend& be, Communicator& comm, DType dtype, const std::string& tag) {
  const std::vector<int> me{0};
  const auto a = values(4096, 1.0f), b = values(4096, -3.0f);
  Tensor t = filled(be, {4096}, dtype, a);
  comm.all_reduce(me, t);
  expect_equal(tag + " all-reduce over a group of one", read(be, t), a);
  Tensor out = be.alloc({4096}, dtype);
  comm.all_gather(me, t, out);
  expect_equal(tag + " all-gather over a group of one", read(be, out), a);
  Tensor rs = be.alloc({4096}, dtype);
  comm.reduce_scatter(me, out, rs);
  expect_equal(tag + " reduce-scatter over a group of one", read(be, rs), a);
  comm.broadcast(me, 0, rs);
  expect_equal(tag + " broadcast over a group of one", read(be, rs), a);

  // Two sends queued on channel 0 and one on channel 1, then received: per channel in order.
  Tensor s1 = filled(be, {2, 8, 64}, dtype, values(1024, 5.0f));
  Tensor s2 = filled(be, {2, 8, 64}, dtype, values(1024, 7.0f));
  Tensor s3 = filled(be, {4, 256}, dtype, values(1024, 9.0f));
  comm.send(0, 1, 0, s1);
  comm.send(0, 2, 0, s2);
  comm.send(0, 3, 1, s3);
  be.upload(s1, b);  // after its send: the send holds a copy
  Tensor r1 = be.alloc({2, 8, 64}, dtype), r2 = be.alloc({2, 8, 64}, dtype), r3 = be.alloc({4, 256}, dtype);
  comm.recv(0, 3, 1, r3);
  comm.recv(0, 1, 0, r1);
  comm.recv(0, 2, 0, r2);
  expect_equal(tag + " send to itself, channel 0 first", read(be, r1), values(1024, 5.0f));
  expect_equal(tag + " send to itself, channel 0 second", read(be, r2), values(1024, 7.0f));
  expect_equal(tag + " send to itself, channel 1", read(be, r3), values(1024, 9.0f));
}

}  // namespace

int main() {
  std::unique_ptr<Backend> be;
  try {
    be = make_backend("cuda");
  } catch (const spindle::InputError& e) {
    std::printf("no CUDA device: skipped (%s)\n", e.what());
    return 77;
  }
  try {
    auto exchange = [](const std::string& mine) { return std::vector<std::string>{mine}; };
    const std::vector<P2pLink> links{{0, 0, 0}, {0, 0, 1}};
    NcclCommunicators comms = nccl_communicators(*be, 0, 1, {{0}}, {{0}}, links, exchange, 60);
    std::printf("communicators created and connected: %.1f MiB of device memory\n",
                static_cast<double>(comms.program->resident_bytes()) / (1 << 20));
    run_checks(*be, *comms.program, DType::kF32, "fp32");
    run_checks(*be, *comms.program, DType::kBF16, "bf16");

    // The sync thread's pattern: values queued on the compute stream, a fence, a thread on the
    // side stream waits for it, all-reduces and scales, a fence back, the compute stream waits.
    const auto a = values(1 << 20, 2.0f);
    Tensor t = filled(*be, {1 << 20}, DType::kF32, a);
    std::shared_ptr<const Fence> ready = be->fence(), synced;
    std::thread sync([&] {
      be->use_side_stream();
      be->wait(ready);
      comms.sync->all_reduce({0}, t);
      be->scale(t, 0.5f);
      synced = be->fence();
    });
    sync.join();
    be->wait(synced);
    std::vector<float> half(a);
    for (float& x : half) x *= 0.5f;
    expect_equal("collective on the side stream between fences", read(*be, t), half);
    comms.program->check();
    comms.sync->check();
  } catch (const std::exception& e) {
    std::printf("FAIL: %s\n", e.what());
    return 1;
  }
  return failures == 0 ? 0 : 1;
}
