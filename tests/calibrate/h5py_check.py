#!/usr/bin/env python3
"""A profile spindle-calibrate wrote, read back with h5py as the README documents it: the root
attributes (schema, version 4, backend, device, timer, libraries, date), the /ops table with its
dtype column and positive times, an empty /collectives table and an empty /kernels table (kernel records
come from CUPTI on a GPU). Exit 77 (skipped) without h5py."""
import os
import re
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


def text(v):
    return v.decode() if isinstance(v, bytes) else str(v)


def main():
    calibrate, source = sys.argv[1], sys.argv[2]
    with tempfile.TemporaryDirectory() as out:
        profile = os.path.join(out, "p.h5")
        subprocess.run([calibrate, os.path.join(source, "scenarios", "clusters", "cpu-host-2core.toml"), "--out", profile,
                        "--grid", "1,2", "--warmup", "0", "--repeats", "2"], check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        with h5py.File(profile, "r") as f:
            a = {k: text(v) for k, v in f.attrs.items()}
            assert a["schema"] == "spindle-profile" and a["version"] == "4", a
            assert a["backend"] == "cpu" and re.fullmatch(r"steady_clock, caches flushed \(\d+ MiB written\) before each run", a["timer"]), a
            assert "OpenBLAS" in a["libraries"] and a["libraries"].endswith("; 1 thread"), a["libraries"]
            assert len(a["date"]) == 20 and a["date"].endswith("Z"), a["date"]
            assert a["device"], a
            ops = f["ops"][()]
            names = set(ops.dtype.names)
            for field in ("kind", "dtype", "batch", "seq", "hidden", "heads", "ffn", "cross_seq", "out_hidden",
                          "out_seq", "in_features", "mlp", "causal", "tp", "samples", "fwd_ms", "bwd_ms",
                          "fwd_spread_ms", "bwd_spread_ms"):
                assert field in names, (field, names)
            assert len(ops) > 20, len(ops)
            kinds = set()
            for row in ops:
                assert text(row["dtype"]) == "fp32", row
                if text(row["kind"]) == "optimizer_step":  # a weight tensor of 4^k elements: [elements, 1, 1]
                    assert row["batch"] >= 64 and row["seq"] == 1 and row["hidden"] == 1, row
                else:
                    assert row["batch"] in (1, 2), row
                assert row["samples"] == 2 and row["fwd_ms"] > 0 and row["bwd_ms"] > 0, row
                assert row["fwd_spread_ms"] >= 0 and row["tp"] in (1, 2), row
                kinds.add(text(row["kind"]))
            assert kinds == {"patch_embed", "token_embed", "encoder_layer", "projection_head", "contrastive_loss",
                             "optimizer_step"}, kinds
            assert len(f["collectives"][()]) == 0
            for field in ("fwd_kernel_ms", "bwd_kernel_ms", "fwd_kernels", "bwd_kernels"):
                assert all(row[field] == 0 for row in ops), field  # nothing records kernels on the CPU
            kernels = f["kernels"][()]
            assert set(kernels.dtype.names) == {"op", "pass", "name", "calls", "time_ms"}, kernels.dtype.names
            assert len(kernels) == 0
    print("profile read back with h5py: %d operator rows" % len(ops))


if __name__ == "__main__":
    main()
