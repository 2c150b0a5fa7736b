#!/usr/bin/env python3
"""robustmsa.load against Python's pickle.load on the same feature file: wall time and peak
memory (docs/python.md, "Benchmark").

Usage: load_vs_pickle.py [FILE.pkl] [--repeat N]

Without FILE a MOSI-sized MulT pickle is written first (robustmsa.synth(like="mosi"), the file
`robustmsa synth --like mosi` writes). Every measurement runs in a fresh process (so one method's
memory never counts for the other), after one untimed read of the file that puts it in the page
cache for both. Two cases per method:
  load      the call alone;
  load+use  the call, then every array summed once (with robustmsa's memory-mapped arrays this is
            when the file's pages become resident, so this is the fair memory comparison).
Peak memory is the process's peak resident set (VmHWM of /proc/self/status; getrusage's ru_maxrss
would carry the parent's peak across fork and exec) minus its resident set just before the call
(interpreter, NumPy and robustmsa already imported). Prints the median time and
the largest peak over the repeats, and the ratios robustmsa / pickle.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

CHILD = r"""
import gc, json, pickle, sys, time
import numpy as np
import robustmsa

def status_kb(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])

def arrays(v):
    if isinstance(v, np.ndarray):
        yield v
    elif isinstance(v, dict):
        for x in v.values():
            yield from arrays(x)
    elif isinstance(v, (list, tuple)):
        for x in v:
            yield from arrays(x)

method, path, use = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
gc.collect()
before = status_kb("VmRSS")
t0 = time.perf_counter()
if method == "pickle":
    with open(path, "rb") as f:
        data = pickle.load(f)
else:
    data = robustmsa.load(path)
t_load = time.perf_counter() - t0
total = 0.0
if use:
    for a in arrays(data):
        if a.dtype.kind in "fiub":
            total += float(np.sum(a, dtype=np.float64))
t_all = time.perf_counter() - t0
peak = status_kb("VmHWM")
print(json.dumps({"seconds": t_all if use else t_load, "load_seconds": t_load,
                  "peak_kb": peak - before, "before_kb": before, "checksum": total}))
"""


def run(method, path, use):
    out = subprocess.run([sys.executable, "-c", CHILD, method, path, "1" if use else "0"],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", nargs="?")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    import robustmsa

    tmp = None
    path = args.file
    if path is None:
        tmp = tempfile.TemporaryDirectory()
        path = os.path.join(tmp.name, "mosi_synth.pkl")
        robustmsa.synth(path, like="mosi", seed=1)
    with open(path, "rb") as f:  # page cache, for both methods alike
        while f.read(1 << 24):
            pass
    info = robustmsa.inspect(path)
    print(f"file {path}: {os.path.getsize(path) / 2**20:.1f} MiB, layout {info['layout']}, "
          f"robustmsa {robustmsa.__version__}, Python {sys.version.split()[0]}, "
          f"repeats {args.repeat}")
    results = {}
    for use in (False, True):
        case = "load+use" if use else "load"
        for method in ("pickle", "robustmsa"):
            runs = [run(method, path, use) for _ in range(args.repeat)]
            results[(case, method)] = runs
            print(f"{case:9s} {method:10s} median {median([r['seconds'] for r in runs]):7.3f} s"
                  f"   peak +{max(r['peak_kb'] for r in runs) / 1024:8.1f} MiB")
        if use:
            sums = {m: results[(case, m)][0]["checksum"] for m in ("pickle", "robustmsa")}
            if repr(sums["pickle"]) != repr(sums["robustmsa"]):
                print(f"checksums differ: {sums}", file=sys.stderr)
                return 1
        p, r = results[(case, "pickle")], results[(case, "robustmsa")]
        t_ratio = median([x["seconds"] for x in r]) / median([x["seconds"] for x in p])
        m_ratio = max(x["peak_kb"] for x in r) / max(x["peak_kb"] for x in p)
        print(f"{case:9s} robustmsa / pickle: time {t_ratio:.2f}x, peak memory {m_ratio:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
