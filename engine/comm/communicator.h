// Communication between logical devices: point-to-point send/recv and the collectives of
// weight sync and contrastive gathers (all-reduce, reduce-scatter, all-gather; broadcast) over a group of
// device ids. Sums are taken in group order, so every member gets the same bits. A GPU
// implementation maps these onto NCCL; thread_comm.h runs devices as threads of one process.
#pragma once

#include <cstddef>
#include <vector>

#include "engine/tensor.h"

namespace spindle::engine {

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int device() const = 0;  // this device's id
  // Asynchronous: returns once the data is copied out; never waits for the receiver.
  // `channel`: the pair's queue the program put the transfer on (planner/program/lowering.h,
  // Instr::channel): a communicator that matches sends and receives by order (NCCL) keeps one
  // queue per channel and direction; those that match by tag (threads, MPI) need not.
  virtual void send(int peer, int tag, int channel, const Tensor& t) = 0;
  // Blocks until the matching send (same peer, tag, channel) arrives; sizes must agree.
  virtual void recv(int peer, int tag, int channel, Tensor& t) = 0;
  // Collectives block until every member of `group` (device ids, this one among them) arrives.
  virtual void all_reduce(const std::vector<int>& group, Tensor& t) = 0;  // sum, in place
  // in [n x k] -> out [k]: the sum over members of chunk r, r = this device's place in group.
  virtual void reduce_scatter(const std::vector<int>& group, const Tensor& in, Tensor& out) = 0;
  // in [k] -> out [n x k]: members' inputs concatenated in group order.
  virtual void all_gather(const std::vector<int>& group, const Tensor& in, Tensor& out) = 0;
  // Every member's t becomes device `root`'s (a member of group), in place. The programs use
  // none; spindle-calibrate --collectives measures it, as nccl-tests does.
  virtual void broadcast(const std::vector<int>& group, int root, Tensor& t) = 0;
  // Device memory the communicator holds outside the backend's allocator (NCCL's buffers).
  virtual std::size_t resident_bytes() const { return 0; }
  // Throws when the communicator failed on its own (NCCL's watchdog aborted it after a peer's
  // error or a timeout): what a rank checks after an iteration. Others never fail so.
  virtual void check() {}
  // Lets the transport move this device's queued sends (MPI moves a large message only inside
  // an MPI call): the interpreter calls it between layers and instructions. Others need none.
  virtual void poll() {}
};

}  // namespace spindle::engine
