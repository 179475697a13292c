// The cluster of N logical devices (see logical_devices.h).
#include "engine/launch/logical_devices.h"

#include <string>

#include "traces/errors.h"

namespace spindle::engine {

Scenario on_devices(const Scenario& s, int devices) {
  if (devices < 1) throw InputError("--devices " + std::to_string(devices) + ": allowed: 1 or more");
  Scenario out = s;
  if (s.cluster.gpus_per_node > 0 && devices % s.cluster.gpus_per_node == 0) {
    out.cluster.nodes = devices / s.cluster.gpus_per_node;
  } else {
    out.cluster.nodes = 1;
    out.cluster.gpus_per_node = devices;
  }
  return out;
}

}  // namespace spindle::engine
