// Member sets of the programs (see comm_groups.h).
#include "engine/comm/comm_groups.h"

#include <set>

namespace spindle::engine {

std::vector<std::vector<int>> comm_groups(const Programs& programs) {
  std::set<std::vector<int>> sets;
  std::set<int> everyone;
  for (const DeviceProgram& p : programs.devices) {
    everyone.insert(p.device);
    for (const Instr& in : p.instrs)
      if (in.group.size() > 0) sets.insert(std::vector<int>(in.group.begin(), in.group.end()));
  }
  sets.insert(std::vector<int>(everyone.begin(), everyone.end()));
  return {sets.begin(), sets.end()};
}

std::vector<std::vector<int>> sync_groups(const Programs& programs) {
  std::set<std::vector<int>> sets;
  for (const DeviceProgram& p : programs.devices)
    for (const Instr& in : p.instrs)
      if (in.kind == InstrKind::kSyncStart) sets.insert(std::vector<int>(in.group.begin(), in.group.end()));
  return {sets.begin(), sets.end()};
}

std::vector<P2pLink> p2p_links(const Programs& programs) {
  std::set<P2pLink> links;
  for (const DeviceProgram& p : programs.devices)
    for (const Instr& in : p.instrs)
      if (in.kind == InstrKind::kSend) links.insert({p.device, in.peer, in.channel});
  return {links.begin(), links.end()};
}

}  // namespace spindle::engine
