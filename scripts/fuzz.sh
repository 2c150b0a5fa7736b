#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan) and runs each for a bounded time, seeded with
# small valid pickles (written by Python + NumPy when available) and the repository's configs.
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET]   (default 30). Exit status non-zero on a finding.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-30}
CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DROBUSTMSA_FUZZ=ON -DROBUSTMSA_BUILD_TESTS=OFF \
  -DROBUSTMSA_BUILD_BENCHMARKS=OFF -DROBUSTMSA_PCH=OFF >/dev/null
cmake --build build-fuzz -j "$(nproc)" --target pickle_fuzz config_fuzz
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/pickle" "$work/config"
cp configs/*.json "$work/config/"
python3 - "$work/pickle" <<'PY' || echo "note: no NumPy; the pickle fuzzer starts from an empty corpus" >&2
import pickle, sys
import numpy as np
d = {"train": {"text": np.arange(24, dtype=np.float32).reshape(2, 3, 4),
               "audio": np.zeros((2, 3, 2), ">f8"), "labels": np.ones((2, 1, 1), np.float32),
               "id": np.array([["a", "b", "c"], ["d", b"e", "f"]], dtype=object),
               "vision": np.asfortranarray(np.ones((2, 3, 2), np.float16))},
     "valid": [1, 2.5, None, True, (3, "x")]}
for p in range(6):
    open(f"{sys.argv[1]}/p{p}.pkl", "wb").write(pickle.dumps(d, protocol=p))
PY
status=0
for target in pickle config; do
  echo "fuzzing ${target} for ${seconds} s"
  if ! ./build-fuzz/${target}_fuzz -max_total_time="$seconds" -print_final_stats=1 \
       "$work/$target" >"$work/$target.log" 2>&1; then
    status=1
    tail -40 "$work/$target.log"
  fi
  grep -E "stat::number_of_executed_units|Done" "$work/$target.log" || true
done
exit $status
