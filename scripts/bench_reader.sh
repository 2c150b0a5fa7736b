#!/usr/bin/env bash
# Compares robustmsa's pickle reader with Python's pickle.load on MOSEI-sized feature files that
# NumPy writes here (random values, the real shapes), in the same run and on the same machine.
#
# usage: scripts/bench_reader.sh [BUILD_DIR]
#   BUILD_DIR  a build configured with -DROBUSTMSA_BUILD_BENCHMARKS=ON where bench_reader is built
#              (default: build)
# environment:
#   PYTHON     python3 with NumPy (default: python3)
#   VARIANTS   files to make, <layout>_p<protocol> (default: "mult_p4 mult_p2 mult_p5 mmsa_p4")
#              mult: MulT/CMU aligned layout, (N, 50, 300/74/35) float32, N = 16326/1871/4659
#              mmsa: MMSA unaligned layout, text (N, 50, 768), audio (N, 375, 5),
#                    vision (N, 500, 20)
#   SCALE      fraction of the MOSEI sample counts (default: 1)
#   KEEP_DIR   write the files there and keep them; files already there are reused
#              (default: a temporary directory, removed at the end)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
bench=$build/bench_reader
if [[ ! -x $bench ]]; then
  echo "error: $bench not found; configure with -DROBUSTMSA_BUILD_BENCHMARKS=ON and build" \
       "the bench_reader target" >&2
  exit 2
fi
python=${PYTHON:-python3}
variants=${VARIANTS:-"mult_p4 mult_p2 mult_p5 mmsa_p4"}
scale=${SCALE:-1}
if [[ -n ${KEEP_DIR:-} ]]; then
  dir=$KEEP_DIR
  mkdir -p "$dir"
else
  dir=$(mktemp -d)
  trap 'rm -rf "$dir"' EXIT
fi

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs)"
version='import sys, numpy; print(sys.version.split()[0], "numpy", numpy.__version__)'
echo "python:  $("$python" -c "$version")"

for variant in $variants; do
  file=$dir/${variant}_scale$scale.pkl
  if [[ -n ${KEEP_DIR:-} && -s $file ]]; then
    echo "reusing $file"
  else
    "$python" - "$file" "$variant" "$scale" <<'PY'
import pickle
import sys

import numpy as np

path, variant, scale = sys.argv[1], sys.argv[2], float(sys.argv[3])
layout, proto = variant.split("_p")
rng = np.random.default_rng(0)
data = {}
for split, n in (("train", 16326), ("valid", 1871), ("test", 4659)):
    n = max(1, int(n * scale))
    if layout == "mult":
        audio = rng.standard_normal((n, 50, 74), dtype=np.float32)
        audio[:, :, 0] = -np.inf  # COVAREP carries -inf
        data[split] = {
            "text": rng.standard_normal((n, 50, 300), dtype=np.float32),
            "audio": audio,
            "vision": rng.standard_normal((n, 50, 35), dtype=np.float32),
            "labels": rng.uniform(-3, 3, size=(n, 1, 1)).astype(np.float32),
            "id": np.array([["v%d" % i, "%d.0" % i, "%d.5" % i] for i in range(n)], dtype=object),
        }
    elif layout == "mmsa":
        data[split] = {
            "raw_text": np.array(["utterance %d" % i for i in range(n)], dtype=object),
            "text": rng.standard_normal((n, 50, 768), dtype=np.float32),
            "audio": rng.standard_normal((n, 375, 5), dtype=np.float32),
            "vision": rng.standard_normal((n, 500, 20), dtype=np.float32),
            "audio_lengths": rng.integers(1, 376, size=n),
            "vision_lengths": rng.integers(1, 501, size=n),
            "regression_labels": rng.uniform(-3, 3, size=n).astype(np.float32),
            "id": np.array(["vid$_$%d" % i for i in range(n)], dtype=object),
        }
    else:
        sys.exit("unknown layout " + layout)
with open(path, "wb") as f:
    pickle.dump(data, f, protocol=int(proto))
PY
  fi
  size=$(stat -c %s "$file")
  echo
  echo "== $variant: $(awk -v s="$size" 'BEGIN { printf "%.1f MB", s / 1e6 }')"
  best=""
  for _ in 1 2 3; do
    # NumPy is imported before the clock starts: only unpickling is timed.
    t=$("$python" -c '
import pickle, sys, time
import numpy
t = time.perf_counter()
with open(sys.argv[1], "rb") as f:
    pickle.load(f)
print(time.perf_counter() - t)' "$file")
    if [[ -z $best ]] || awk -v a="$t" -v b="$best" 'BEGIN { exit !(a < b) }'; then best=$t; fi
  done
  awk -v t="$best" -v s="$size" \
    'BEGIN { printf "python pickle.load (best of 3): %.3f s, %.0f MB/s\n", t, s / 1e6 / t }'
  # One load + touch + release in a fresh process, best of 3: the same conditions as Python's.
  best=""
  for _ in 1 2 3; do
    t=$(ROBUSTMSA_BENCH_PICKLE=$file "$bench" --benchmark_filter='^FirstLoad' \
          --benchmark_format=csv 2>/dev/null | awk -F, '/^"FirstLoad/ { print $3 / 1000 }')
    if [[ -z $best ]] || awk -v a="$t" -v b="$best" 'BEGIN { exit !(a < b) }'; then best=$t; fi
  done
  awk -v t="$best" -v s="$size" 'BEGIN { printf "robustmsa load_file + read all + release " \
    "(fresh process, best of 3): %.3f s, %.0f MB/s\n", t, s / 1e6 / t }'
  ROBUSTMSA_BENCH_PICKLE=$file "$bench" --benchmark_filter='^BM_' \
    --benchmark_counters_tabular=true 2>&1 | grep -E '^(BM_|-|Benchmark)'
  [[ -n ${KEEP_DIR:-} ]] || rm -f "$file"
done
