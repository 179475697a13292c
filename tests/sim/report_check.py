#!/usr/bin/env python3
"""Checks spindle-sim's studies and reports as a user meets them (run by ctest).

  report_check.py files SPINDLE_SIM SOURCE_DIR     a two-point study: plain progress lines on a
      non-terminal and a bar on a terminal, every SVG parses as XML, every Gantt chart has one
      row per GPU, every index.html references only files that exist, --resume runs only the
      missing point, an interrupt keeps the finished points, --shard I/N runs every N-th point
      and report merges them, a bad point stops the study before anything runs, compare prints
      both sides.
  report_check.py browser SPINDLE_SIM SOURCE_DIR OUT_DIR   one run's report written to OUT_DIR
      (OUT_DIR/run) and a two-point study's (OUT_DIR/study), each opened in headless chromium:
      no console message, every picture loaded, and a screenshot saved beside the report
      (screenshot.png, kept for people to look at);
      exit 77 (skipped) only when chromium is not installed.
"""
import json
import os
import pty
import re
import signal
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

SVG = "{http://www.w3.org/2000/svg}"


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def run(cmd, cwd, expect=0):
    p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if expect is not None and p.returncode != expect:
        fail("%s -> exit %d (want %d)\nstdout:\n%s\nstderr:\n%s" % (" ".join(cmd), p.returncode, expect, p.stdout, p.stderr))
    return p


class Refs(HTMLParser):
    def __init__(self):
        super().__init__()
        self.refs = []

    def handle_starttag(self, tag, attrs):
        for k, v in attrs:
            if k in ("href", "src") and v:
                self.refs.append(v)


def check_html(path):
    p = Refs()
    with open(path, encoding="utf-8") as f:
        p.feed(f.read())
    if not p.refs:
        fail(path + " references nothing")
    for r in p.refs:
        if re.match(r"^[a-z]+:", r) or r.startswith("//"):
            fail("%s references %s: nothing may come from the network" % (path, r))
        if not os.path.isfile(os.path.join(os.path.dirname(path), r)):
            fail("%s references %s, which does not exist" % (path, r))
    return p.refs


def check_svgs(root):
    count = 0
    for d, _, files in os.walk(root):
        for f in files:
            if not f.endswith(".svg"):
                continue
            path = os.path.join(d, f)
            try:
                tree = ET.parse(path)
            except ET.ParseError as e:
                fail("%s is not well-formed XML: %s" % (path, e))
            count += 1
            if f.startswith("gantt-"):
                with open(os.path.join(d, "summary.json")) as s:
                    gpus = json.load(s)["gpus"]
                rows = [g.get("data-gpu") for g in tree.iter(SVG + "g") if g.get("class") == "gpu-row"]
                if rows != [str(i) for i in range(gpus)]:
                    fail("%s has rows %s, want one per GPU 0..%d" % (path, rows, gpus - 1))
    return count


def study_text(source, nodes):
    clip4 = os.path.join(source, "scenarios", "multitask-clip-4.toml")
    return ('[study]\nname = "check"\n\n[sweep]\n"scenario.extends" = ["%s"]\n"cluster.nodes" = [%s]\n'
            % (clip4, ", ".join(str(n) for n in nodes)))


def files(sim, source):
    tmp = tempfile.mkdtemp(prefix="spindle-report-check-")
    try:
        study = os.path.join(tmp, "check.toml")
        with open(study, "w") as f:
            f.write(study_text(source, [1, 2]))
        out = os.path.join(tmp, "out")
        base = [sim, study, "--out", out, "--system", "spindle", "--system", "sequential", "-j", "2"]
        p = run(base, source)
        # stderr is a pipe here: plain lines, no bar redrawn in place.
        if "\r" in p.stderr or "\x1b" in p.stderr:
            fail("progress on a non-terminal has control characters: %r" % p.stderr)
        lines = [l for l in p.stderr.splitlines() if re.match(r"^\[\d+/2\] point \d ", l)]
        if len(lines) != 2:
            fail("want two progress lines [k/2] point ..., got:\n" + p.stderr)
        # A large study names its point count at once and starts its points streaming, each
        # checked as it starts (90,000 points said nothing for 73 s, then ran): here 1,000 points
        # whose second is bad: the first runs and is kept, the bad one stops the study.
        with open(os.path.join(tmp, "large.toml"), "w") as f:
            f.write(study_text(source, [1, 0] + list(range(2, 1000))))
        large_out = os.path.join(tmp, "large")
        p_large = run([sim, os.path.join(tmp, "large.toml"), "--out", large_out, "--system", "sequential", "-j", "1"],
                      source, expect=2)
        large = p_large.stderr.splitlines()
        if len(large) < 4 or \
                large[0] != "study check: 1000 points; each is checked as it starts (a bad one stops the study, " \
                            "the finished ones are kept)" \
                or not re.match(r"^\[1/1000\] point 0 \(.*\) done in ", large[2]) \
                or not large[-2].startswith("1 finished points are kept in ") \
                or "sweep point 1 (" not in large[-1]:
            fail("a large study should announce its points, run the first, then name the bad one, got:\n" +
                 p_large.stderr)
        kept = [d for d in os.listdir(os.path.join(large_out, "points"))
                if os.path.exists(os.path.join(large_out, "points", d, "done"))]
        if len(kept) != 1 or not kept[0].startswith("000"):
            fail("the finished point of the stopped large study should be kept, got %s" % kept)
        done_file = os.path.join(large_out, "points", kept[0], "done")
        before = os.stat(done_file).st_mtime_ns
        p_again = run([sim, os.path.join(tmp, "large.toml"), "--out", large_out, "--system", "sequential", "-j", "1",
                       "--resume"], source, expect=2)
        if "running up to 1000, 1 at a time" not in p_again.stderr or \
                "\n1 finished points are kept in " not in p_again.stderr or "[1/" in p_again.stderr \
                or os.stat(done_file).st_mtime_ns != before:
            fail("--resume of the stopped large study should skip its finished point and stop again, got:\n" +
                 p_again.stderr)
        index = os.path.join(out, "index.html")
        if not p.stdout.startswith("Points (" + os.path.join(out, "points.csv") + ")\n") or \
                not p.stdout.endswith("\nReport: " + index + "\n"):
            fail("stdout should be the points table, then the report path, got %r" % p.stdout)
        with open(os.path.join(out, "points.csv")) as f:
            csv_lines = len(f.read().splitlines())
        if len(p.stdout.splitlines()) != 1 + csv_lines + 1:  # title, header and rows, report path
            fail("the points table should have a row per row of points.csv, got %r" % p.stdout)
        refs = check_html(index)
        points = sorted(os.listdir(os.path.join(out, "points")))
        if len(points) != 2:
            fail("want two point folders, got %s" % points)
        for pt in points:
            check_html(os.path.join(out, "points", pt, "index.html"))
        if not any(r.endswith("gantt-spindle.svg") for r in refs):
            fail("the study page shows no Spindle Gantt chart")
        if check_svgs(out) < 2 * 3 + 2:
            fail("too few SVG files")

        # Keys zipped with the x axis move along it: one plot for the whole sweep, not one per point.
        zipped = os.path.join(tmp, "zipped.toml")
        with open(zipped, "w") as f:
            f.write('[study]\nname = "zipped"\nx = "tasks.0.batch"\n\n[scenario]\nextends = "%s"\n\n'
                    '[sweep]\nmode = "zip"\n"tasks.0.batch" = [32, 64]\n"tasks.1.batch" = [16, 32]\n'
                    % os.path.join(source, "scenarios", "multitask-clip-4.toml"))
        zout = os.path.join(tmp, "zout")
        run([sim, zipped, "--out", zout, "--system", "spindle", "--system", "sequential", "-j", "2"], source)
        plots = sorted(f for f in os.listdir(zout) if f.startswith("sweep-"))
        if plots != ["sweep-0-speedup.svg", "sweep-0-time.svg"]:
            fail("a zipped sweep should give one time and one speedup plot, got %s" % plots)

        # On a terminal: one bar redrawn in place.
        master, slave = pty.openpty()
        tty = [sim, study, "--out", os.path.join(tmp, "tty"), "--system", "spindle", "--system", "sequential"]
        p = subprocess.run(tty, cwd=source, stdout=subprocess.PIPE,
                           stderr=slave, stdin=subprocess.DEVNULL)
        os.close(slave)
        shown = b""
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            shown += chunk
        os.close(master)
        if p.returncode != 0 or b"\r\x1b[K[" not in shown or b"] 2/2 points, 0 running" not in shown:
            fail("no progress bar on a terminal: %r" % shown[-400:])

        # Interrupted (SIGINT after the first point finished): finished points stay, --resume runs the rest.
        three = os.path.join(tmp, "three.toml")
        with open(three, "w") as f:
            f.write(study_text(source, [1, 2, 4]))
        out3 = os.path.join(tmp, "interrupted")
        cmd3 = [sim, three, "--out", out3, "--system", "spindle", "--system", "sequential", "-j", "1"]
        proc = subprocess.Popen(cmd3, cwd=source, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        first_done = os.path.join(out3, "points", "000-multitask-clip-4-nodes-1", "done")
        deadline = time.monotonic() + 600  # about 4 s on an idle 2-core machine; a loaded one may take far longer
        while not os.path.exists(first_done) and proc.poll() is None:
            if time.monotonic() > deadline:
                proc.kill()
                fail("the study's first point did not finish within 600 s")
            time.sleep(0.01)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
        kept = [d for d in os.listdir(os.path.join(out3, "points"))
                if os.path.isfile(os.path.join(out3, "points", d, "done"))]
        if proc.returncode == 130:
            if "interrupted: %d finished points are kept" % len(kept) not in err:
                fail("an interrupted study should say what it kept:\n" + err)
        elif proc.returncode != 0:  # it may have finished before the signal arrived
            fail("interrupted study exit %d:\n%s" % (proc.returncode, err))
        if not kept:
            fail("the finished point was not kept")
        p = run(cmd3 + ["--resume"], source)
        if "%d already done; running %d," % (len(kept), 3 - len(kept)) not in p.stderr:
            fail("--resume after the interrupt:\n" + p.stderr)

        # Study flags on a plain scenario are bad input.
        p = run([sim, "scenarios/multitask-clip-4.toml", "--resume"], source, expect=2)
        if "for studies" not in p.stderr:
            fail("--resume without a study: " + p.stderr)

        # --resume: only the point without its done marker runs again.
        first = os.path.join(out, "points", points[0], "summary.json")
        second = os.path.join(out, "points", points[1], "summary.json")
        os.remove(os.path.join(out, "points", points[1], "done"))
        os.utime(first, (1, 1))
        os.utime(second, (1, 1))
        p = run(base + ["--resume"], source)
        if "1 already done; running 1," not in p.stderr:
            fail("--resume should skip one point and run one:\n" + p.stderr)
        if os.stat(first).st_mtime != 1:
            fail("--resume rewrote the finished point")
        if os.stat(second).st_mtime == 1:
            fail("--resume did not run the missing point")
        # --resume with other inputs (here a --set): finished points are stale and run again.
        p = run(base + ["--resume", "--set", "cluster.intra_node.latency_us=2.5"], source)
        if "0 already done, 2 done with other inputs (run again); running 2," not in p.stderr:
            fail("--resume with another --set should run both points again:\n" + p.stderr)

        # report DIR rebuilds the page from the folder alone.
        run([sim, "report", out], source)
        check_html(index)

        # Shards: each runs every 2nd point; report merges what is there.
        out2 = os.path.join(tmp, "sharded")
        shard = [sim, study, "--out", out2, "--system", "spindle", "--system", "sequential"]
        for k in (0, 1):
            p = run(shard + ["--shard", "%d/2" % k], source)
            if "shard %d/2 finished" % k not in p.stdout:
                fail("a shard should say how to merge:\n" + p.stdout)
            done = sorted(d for d in os.listdir(os.path.join(out2, "points"))
                          if os.path.isfile(os.path.join(out2, "points", d, "done")))
            if len(done) != k + 1 or not done[k].startswith("%03d-" % k):
                fail("after shard %d/2 the finished points are %s" % (k, done))
            run([sim, "report", out2], source)
            with open(os.path.join(out2, "index.html")) as f:
                if "%d of 2 points finished" % (k + 1) not in f.read():
                    fail("the merged report should count %d finished points" % (k + 1))
            check_html(os.path.join(out2, "index.html"))

        # compare: two systems of one run.
        p = run([sim, "compare", first + ":spindle", first + ":sequential"], source)
        for want in ("simulated iteration", "per MetaOp", "M0 "):
            if want not in p.stdout:
                fail("compare output lacks %r:\n%s" % (want, p.stdout))

        # A hand-edited run folder with a key missing: one line, exit 2, never a crash.
        edited = os.path.join(tmp, "edited")
        shutil.copytree(os.path.dirname(first), edited)
        with open(os.path.join(edited, "summary.json")) as f:
            summary = json.load(f)
        del summary["metaops"][0]["id"]
        with open(os.path.join(edited, "summary.json"), "w") as f:
            json.dump(summary, f)
        for cmd in ([sim, "report", edited], [sim, "compare", edited, edited]):
            p = run(cmd, source, expect=2)
            if p.stdout or p.stderr.count("\n") != 1 or "key 'id' not found" not in p.stderr:
                fail("%s on a summary.json without a MetaOp id: want one line, exit 2:\n%s%s" % (cmd[1], p.stdout, p.stderr))

        # compare needs simulated runs: a --plan-only summary is bad input, not a table of zeros.
        planned = os.path.join(tmp, "planned")
        run([sim, "scenarios/multitask-clip-4.toml", "--plan-only", "--out", planned], source)
        p = run([sim, "compare", planned, first], source, expect=2)
        if "was not simulated" not in p.stderr or p.stderr.count("\n") != 1:
            fail("compare of a --plan-only summary: want one line, exit 2:\n" + p.stderr)

        # A bad point stops the study before anything runs, naming its coordinates.
        bad = os.path.join(tmp, "bad.toml")
        with open(bad, "w") as f:
            f.write(study_text(source, [1, 0]))
        p = run([sim, bad, "--out", os.path.join(tmp, "bad-out")], source, expect=2)
        if "sweep point 1 (" not in p.stderr or "cluster.nodes=0" not in p.stderr:
            fail("a bad point should be named with its coordinates:\n" + p.stderr)
        if os.path.exists(os.path.join(tmp, "bad-out", "points")):
            fail("a study with a bad point ran something")

        # A malformed published-speedups file stops the study before any point runs, too.
        with open(os.path.join(tmp, "bad-speedups.toml"), "w") as f:
            f.write('[source]\ncitation = "x"\n[[speedup]]\nmodel = "M"\nbaseline = "B"\nrange = ["a", 2]\n')
        with open(bad, "w") as f:
            f.write(study_text(source, [1, 2]).replace('name = "check"', 'name = "check"\npaper_speedups = "bad-speedups.toml"'))
        p = run([sim, bad, "--out", os.path.join(tmp, "bad-paper")], source, expect=2)
        if "bad-speedups.toml:6:10: speedup.0.range" not in p.stderr or p.stderr.count("\n") != 1:
            fail("a malformed paper_speedups file should be one line naming its place:\n" + p.stderr)
        pts = os.path.join(tmp, "bad-paper", "points")
        if os.path.isdir(pts) and os.listdir(pts):
            fail("a study with a bad paper_speedups file ran points")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def load_in_chromium(chromium, profile, index, min_images):
    """Opens index.html headless: every picture loaded, no error, no console message; saves
    screenshot.png beside it."""
    flags = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--user-data-dir=" + profile,
             "--enable-logging=stderr", "--v=0", "--virtual-time-budget=10000"]
    p = subprocess.run(flags + ["--dump-dom", "file://" + index], capture_output=True, text=True, timeout=120)
    body = re.search(r"<body([^>]*)>", p.stdout)
    if body is None:
        fail("chromium returned no page for %s:\n%s" % (index, p.stderr[-2000:]))
    images = re.search(r'data-images="(\d+)/(\d+)"', body.group(1))
    errors = re.search(r'data-errors="(\d+)"', body.group(1))
    if images is None or errors is None:
        fail("%s: the page's load check did not run: <body%s>" % (index, body.group(1)))
    if images.group(1) != images.group(2) or int(images.group(2)) < min_images:
        fail("%s: pictures loaded: %s/%s" % (index, images.group(1), images.group(2)))
    if errors.group(1) != "0":
        fail("%s: %s errors while loading the page" % (index, errors.group(1)))
    console = [l for l in p.stderr.splitlines() if "CONSOLE" in l]
    if console:
        fail("%s: console messages:\n%s" % (index, "\n".join(console)))
    shot = os.path.join(os.path.dirname(index), "screenshot.png")
    subprocess.run(flags + ["--hide-scrollbars", "--window-size=1280,2000", "--screenshot=" + shot, "file://" + index],
                   capture_output=True, text=True, timeout=120)
    if not os.path.isfile(shot) or os.path.getsize(shot) < 10000:
        fail("no screenshot at " + shot)
    with open(shot, "rb") as f:
        if f.read(8) != b"\x89PNG\r\n\x1a\n":
            fail(shot + " is not a PNG")
    print("%s loaded with %s pictures, screenshot %s" % (index, images.group(2), shot))


def browser(sim, source, out):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        print("SKIP: chromium is not installed (scripts/setup.sh installs it)")
        sys.exit(77)
    tmp = tempfile.mkdtemp(prefix="spindle-report-browser-")
    try:
        shutil.rmtree(out, ignore_errors=True)
        run_dir = os.path.join(out, "run")
        run([sim, "scenarios/multitask-clip-4.toml", "--set", "cluster.nodes=1", "--out", run_dir], source)
        load_in_chromium(chromium, os.path.join(tmp, "profile"), os.path.join(run_dir, "index.html"), 7)
        study = os.path.join(tmp, "check.toml")
        with open(study, "w") as f:
            f.write(study_text(source, [1, 2]))
        study_dir = os.path.join(out, "study")
        run([sim, study, "--out", study_dir, "--system", "spindle", "--system", "sequential"], source)
        load_in_chromium(chromium, os.path.join(tmp, "profile"), os.path.join(study_dir, "index.html"), 6)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["files"] and len(sys.argv) == 4:
        files(sys.argv[2], sys.argv[3])
    elif sys.argv[1:2] == ["browser"] and len(sys.argv) == 5:
        browser(sys.argv[2], sys.argv[3], os.path.abspath(sys.argv[4]))
    else:
        print(__doc__)
        sys.exit(2)
    print("ok")
