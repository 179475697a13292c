// The member sets a plan's programs communicate over, for communicators made up front (MPI
// and NCCL create a communicator per member set, collectively): every instruction's group
// (contrastive gathers, weight-sync buckets, ZeRO-1 parameter gathers, TP all-reduces inside
// a compute and after it) and all devices (the gradient clip's global norm); and the
// point-to-point links (sender, receiver, channel) its transfers use.
#pragma once

#include <compare>
#include <vector>

#include "planner/program/lowering.h"

namespace spindle::engine {

// Each set once, members ascending, the sets in ascending order: the same list on every rank.
std::vector<std::vector<int>> comm_groups(const Programs& programs);
// The same for the weight sync's buckets alone (the sync thread's communicator).
std::vector<std::vector<int>> sync_groups(const Programs& programs);

// A queue of point-to-point transfers: sends from one device to another on one channel
// (Instr::channel), which a communicator that matches by order (NCCL) gives a communicator
// (and the sender a stream) of its own.
struct P2pLink {
  int from = 0, to = 0, channel = 0;
  auto operator<=>(const P2pLink&) const = default;
};

// Every link a send of the programs uses, each once, ascending: the same list on every rank.
std::vector<P2pLink> p2p_links(const Programs& programs);

}  // namespace spindle::engine
