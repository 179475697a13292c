// Host-staged communication for device tensors (see host_staged_comm.h).
#include "engine/comm/host_staged_comm.h"

#include <vector>

namespace spindle::engine {
namespace {

// An fp32 host tensor of `shape`, holding `values` when given.
Tensor host_tensor(const Dims& shape, std::vector<float> values = {}) {
  std::int64_t n = 1;
  for (std::int64_t d : shape) n *= d;
  values.resize(static_cast<size_t>(n));
  auto memory = std::make_shared<std::vector<float>>(std::move(values));
  return Tensor(shape, DType::kF32, std::shared_ptr<void>(memory, memory->data()));
}

class HostStaged final : public Communicator {
 public:
  HostStaged(std::unique_ptr<Communicator> inner, Backend& be) : inner_(std::move(inner)), be_(be) {}
  int device() const override { return inner_->device(); }
  void check() override { inner_->check(); }
  std::size_t resident_bytes() const override { return inner_->resident_bytes(); }
  void send(int peer, int tag, int channel, const Tensor& t) override { inner_->send(peer, tag, channel, to_host(t)); }
  void recv(int peer, int tag, int channel, Tensor& t) override {
    Tensor h = host_tensor(t.shape());
    inner_->recv(peer, tag, channel, h);
    back(h, t);
  }
  void all_reduce(const std::vector<int>& group, Tensor& t) override {
    Tensor h = to_host(t);
    inner_->all_reduce(group, h);
    back(h, t);
  }
  void reduce_scatter(const std::vector<int>& group, const Tensor& in, Tensor& out) override {
    Tensor h = host_tensor(out.shape());
    inner_->reduce_scatter(group, to_host(in), h);
    back(h, out);
  }
  void all_gather(const std::vector<int>& group, const Tensor& in, Tensor& out) override {
    Tensor h = host_tensor(out.shape());
    inner_->all_gather(group, to_host(in), h);
    back(h, out);
  }

  void poll() override { inner_->poll(); }
  void broadcast(const std::vector<int>& group, int root, Tensor& t) override {
    Tensor h = to_host(t);
    inner_->broadcast(group, root, h);
    back(h, t);
  }

 private:
  Tensor to_host(const Tensor& t) {
    std::vector<float> v(static_cast<size_t>(t.numel()));
    be_.download(t, v);
    return host_tensor(t.shape(), std::move(v));
  }
  void back(const Tensor& h, Tensor& t) {
    be_.upload(t, std::span<const float>(h.f32(), static_cast<size_t>(h.numel())));
  }

  std::unique_ptr<Communicator> inner_;
  Backend& be_;
};

}  // namespace

std::unique_ptr<Communicator> host_staged(std::unique_ptr<Communicator> inner, Backend& backend) {
  return std::make_unique<HostStaged>(std::move(inner), backend);
}

std::unique_ptr<Communicator> on_backend(std::unique_ptr<Communicator> host, Backend& backend) {
  return backend.host_memory() ? std::move(host) : host_staged(std::move(host), backend);
}

}  // namespace spindle::engine
