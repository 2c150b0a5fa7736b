#!/usr/bin/env bash
# Data-parallel throughput of `robustmsa train` on this machine: samples/s with 1 and 2 ranks
# (Gloo over loopback) and the all-reduce time per step, from the run's metrics.jsonl. Prints
# numbers, never pass/fail. The global batch and train.shards are the same in every row, so the
# rows train the same model (up to float summation order).
# Usage: scripts/bench_distributed.sh [BUILD_DIR] [N_TRAIN] [EPOCHS] [extra train args...]
set -euo pipefail
build=${1:-build}
n=${2:-1284}
epochs=${3:-3}
shift 3 2>/dev/null || shift $#
bin=$(realpath "$build/robustmsa")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$bin" synth --like mosi --seed 1 --n "$n" "$tmp/data.pkl" 2>/dev/null
echo "robustmsa data-parallel bench: synthetic MOSI-like, $n train samples, umdf defaults," \
     "batch 128, train.shards 2, $epochs epochs, $(nproc) cores ($(uname -n))"
printf '%-6s %-13s %-10s %-12s %-14s %-10s\n' ranks threads/rank samples/s steps/epoch \
       allreduce_ms/step grad_values
run() {  # ranks threads
  local ranks=$1 threads=$2 out="$tmp/r${1}_${2}"
  shift 2
  local extra=()
  ((ranks > 1)) && extra=(--nproc "$ranks")
  "$bin" train --data "$tmp/data.pkl" --model umdf --out "$out" --seeds 1111 --threads "$threads" \
    --set train.epochs="$epochs" --set train.shards=2 --set train.select_on=complete \
    --set train.patience=0 "${extra[@]}" "$@" >"$out.log" 2>&1 || { cat "$out.log"; exit 1; }
  python3 - "$out/seed_1111/metrics.jsonl" "$ranks" "$threads" "$n" "$out.log" <<'PY'
import json, re, sys
path, ranks, threads, n, log = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
rows = [json.loads(l) for l in open(path)]
rows = rows[1:] or rows  # the first epoch includes warm-up
sps = sum(r["samples_per_s"] for r in rows) / len(rows)
steps = -(-n // 128)
ar = sum(r.get("allreduce_seconds", 0.0) for r in rows) / len(rows) / steps * 1000
m = re.search(r"(\d+) gradient values", open(log).read())
print(f"{ranks:<6} {threads:<13} {sps:<10.1f} {steps:<12} {ar:<17.3f} {m.group(1) if m else '-'}")
PY
}
run 1 1 "$@"
run 1 2 "$@"
run 2 1 "$@"
