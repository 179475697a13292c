#!/usr/bin/env python3
"""results.h5 read back with h5py as the README documents it: the scenario attribute, the
/summary rows (the same systems and times as results.csv) and every system's /busy intervals
(by device then time, inside the simulated iteration). Exit 77 (skipped) without h5py."""
import csv
import os
import subprocess
import sys
import tempfile

try:
    import h5py
except ImportError:
    # Debian's python3-h5py lives with /usr/bin/python3, which another python3 may shadow.
    if os.path.realpath(sys.executable) != os.path.realpath("/usr/bin/python3") and os.path.exists("/usr/bin/python3"):
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    print("h5py not installed (Debian: python3-h5py)")
    sys.exit(77)


def main():
    sim, source = sys.argv[1], sys.argv[2]
    with tempfile.TemporaryDirectory() as out:
        subprocess.run([sim, os.path.join(source, "scenarios", "multitask-clip-4.toml"), "--set", "cluster.nodes=2",
                        "--out", out], check=True, stdout=subprocess.DEVNULL)
        rows = list(csv.DictReader(open(os.path.join(out, "results.csv"))))
        with h5py.File(os.path.join(out, "results.h5"), "r") as f:
            scenario = f["scenario"][()]
            scenario = scenario.decode() if isinstance(scenario, bytes) else str(scenario)
            assert "[scenario]" in scenario and "# --set cluster.nodes=2" in scenario, scenario[:200]
            assert str(f.attrs["layout_version"]).strip("b'") == "2", f.attrs["layout_version"]
            summary = f["summary"][()]
            names = [s.decode() if isinstance(s, bytes) else str(s) for s in summary["system"]]
            assert names == [r["system"] for r in rows], (names, [r["system"] for r in rows])
            for r, s in zip(rows, summary):
                assert float(r["simulated_s"]) == float(s["simulated_s"]), (r["system"], r["simulated_s"], s["simulated_s"])
            for name, s in zip(names, summary):
                busy = f["busy"][name][()]
                assert len(busy) > 0, name
                keys = list(zip(busy["device"], busy["start_s"]))
                assert keys == sorted(keys), name + ": intervals not by device then time"
                assert (busy["end_s"] >= busy["start_s"]).all(), name
                assert busy["end_s"].max() <= float(s["simulated_s"]) * (1 + 1e-9), name
                assert set(busy["kind"]) <= {0, 1, 2, 3, 4}, name
            print(f"results.h5: {len(names)} systems, {sum(len(f['busy'][n]) for n in names)} busy intervals read with h5py {h5py.__version__}")


main()
