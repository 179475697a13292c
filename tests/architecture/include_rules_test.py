#!/usr/bin/env python3
"""scripts/check-includes on the real tree (every rule holds) and on small trees that break
one rule each (it must fail and name the file, the line and what is allowed)."""
import pathlib
import subprocess
import sys
import tempfile

root = pathlib.Path(sys.argv[1])
checker = root / "scripts" / "check-includes"
failures = []


def run(tree):
    return subprocess.run([sys.executable, str(checker), str(tree)], capture_output=True, text=True)


real = run(root)
if real.returncode != 0:
    failures.append("the source tree breaks the rules:\n" + real.stdout)

# (file, its text, what the checker must print)
broken = [
    ("planner/schedule/x.cpp", '#include "sim/replay/simulation.h"\n', "planner/schedule/x.cpp:1: planner/ includes sim/"),
    ("sim/x.cpp", '#include <x.h>\n#include "engine/backend.h"\n', "sim/x.cpp:2: sim/ includes engine/backend.h"),
    ("engine/x.cpp", '#include "sim/replay/simulation.h"\n', "engine/x.cpp:1: engine/ includes sim/"),
    ("traces/x.h", '#include "planner/pipeline.h"\n', "traces/x.h:1: traces/ includes planner/pipeline.h"),
    ("planner/graph/x.h", '#include "planner/schedule/plan.h"\n', "planner/graph/x.h:1: planner/graph includes planner/schedule/plan.h, a later step"),
    ("planner/report/x.cpp", '#include <simgrid/s4u.hpp>\n', "planner/report/x.cpp:1: includes <simgrid/s4u.hpp> (SimGrid)"),
    ("sim/report/x.cpp", '#include <hdf5.h>\n', "sim/report/x.cpp:1: includes <hdf5.h> (HDF5)"),
    ("engine/cpu/x.cpp", '#include <cuda_runtime.h>\n', "engine/cpu/x.cpp:1: includes <cuda_runtime.h> (CUDA)"),
    ("planner/x.h", '#include <toml++/toml.hpp>\n', "planner/x.h:1: includes <toml++/toml.hpp> (toml++)"),
]
for path, text, want in broken:
    with tempfile.TemporaryDirectory() as tmp:
        f = pathlib.Path(tmp) / path
        f.parent.mkdir(parents=True)
        f.write_text(text)
        r = run(tmp)
        if r.returncode != 1 or want not in r.stdout:
            failures.append(f"{path}: expected exit 1 and '{want}', got exit {r.returncode}: {r.stdout.strip()}")
# Allowed ones pass: a CUDA header in a cuda/ folder, the planner's steps in order.
with tempfile.TemporaryDirectory() as tmp:
    for path, text in [("engine/cuda/k.cu", "#include <cuda_runtime.h>\n"),
                       ("planner/report/r.cpp", '#include "planner/schedule/plan.h"\n'),
                       ("sim/s.cpp", '#include "planner/pipeline.h"\n#include "traces/errors.h"\n')]:
        f = pathlib.Path(tmp) / path
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(text)
    r = run(tmp)
    if r.returncode != 0:
        failures.append("allowed includes were refused: " + r.stdout)

for f in failures:
    print("FAIL:", f)
print(f"{len(broken) + 2 - len(failures)} passed, {len(failures)} failed")
sys.exit(1 if failures else 0)
