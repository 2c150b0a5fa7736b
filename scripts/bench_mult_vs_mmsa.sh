#!/usr/bin/env bash
# robustmsa's MulT vs MMSA's MulT (PyPI mmsa 2.2.1, unmodified; PyTorch from Debian's
# python3-torch): training seconds per epoch and peak resident memory, same machine, same threads,
# same MOSI-shaped synthetic data, MMSA's MOSI MulT defaults (width 50, 10 heads, 4 levels),
# batch 16 and 128, aligned (50 x 300/74/35) and unaligned (50/375/500 x 768/5/20) layouts.
# robustmsa runs with MMSA's Conv1d padding 0 and, on the unaligned layout at batch >= 128, with
# model.recompute=true (activation recomputation, src/nn/recompute.h).
#
#   scripts/bench_mult_vs_mmsa.sh [BUILD_DIR] [--steps S] [--threads T] [--mem-gb G]
#                                 [--layouts "aligned unaligned"] [--batches "16 128"]
#
# Each configuration times S training steps after two warm-up steps and scales the time per step
# to one epoch (ceil(1284 / batch) steps of the MOSI train split); the output says so. Every run
# is limited to G GiB of address space (prlimit --as, default 8), so a run that needs more fails
# cleanly ("over the G GiB limit") instead of taking the machine down.
# Needs: BUILD_DIR/robustmsa and BUILD_DIR/bench_train (ninja robustmsa_cli bench_train);
# $PYTHON (default /usr/bin/python3) with torch (apt install python3-torch) and MMSA
# (python3 -m pip install --no-deps mmsa==2.2.1). Without them the MMSA column says "skipped".
set -uo pipefail
cd "$(dirname "$0")/.."
build=build
if [[ $# -gt 0 && $1 != --* ]]; then build=$1; shift; fi
steps=5 threads=2 mem_gb=8 layouts="aligned unaligned" batches="16 128"
while [[ $# -gt 0 ]]; do
  case $1 in
    --steps) steps=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --mem-gb) mem_gb=$2; shift 2 ;;
    --layouts) layouts=$2; shift 2 ;;
    --batches) batches=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
python=${PYTHON:-/usr/bin/python3}
for exe in robustmsa bench_train; do
  [[ -x $build/$exe ]] || { echo "missing $build/$exe (ninja -C $build robustmsa_cli bench_train)" >&2; exit 2; }
done
limit=$((mem_gb * 1024 * 1024 * 1024))
work=$(mktemp -d /tmp/bench_mult_vs_mmsa.XXXXXX)
trap 'rm -rf "$work"' EXIT

echo "# MulT training: robustmsa vs MMSA $(
  "$python" -c 'from importlib.metadata import version as v; print(v("MMSA"))' 2>/dev/null ||
  echo '(not installed)'), $(nproc) cores, $threads threads, $steps timed steps per run (+2 warm-up), epoch = time/step x ceil(1284/batch), limit ${mem_gb} GiB"
echo "# $(date -u +%FT%TZ) $(uname -n); load average: $(cut -d' ' -f1-3 /proc/loadavg)"
"$build/robustmsa" synth --like mosi --layout mult --seed 1 "$work/aligned.pkl" 2>/dev/null ||
  { echo "synth failed" >&2; exit 1; }
"$build/robustmsa" synth --like mosi --layout mmsa_unaligned --seed 1 "$work/unaligned.pkl" \
  2>/dev/null || { echo "synth failed" >&2; exit 1; }

# Runs "$@" under the address-space limit; prints its output, or why it failed.
limited() {
  local out rc
  out=$(prlimit --as=$limit -- "$@" 2>&1)
  rc=$?
  if [[ $rc -eq 77 ]]; then echo "skipped: ${out##*skip: }"; return; fi
  if [[ $rc -ne 0 ]]; then
    if grep -qiE "bad_alloc|out of memory|cannot allocate|MemoryError|DefaultCPUAllocator" <<<"$out"; then
      echo "failed: over the ${mem_gb} GiB limit"
    else
      echo "failed (exit $rc): $(tail -1 <<<"$out")"
    fi
    return
  fi
  echo "$out"
}

printf "%-10s %5s | %-44s | %s\n" layout batch "robustmsa (bench_train, mult)" "MMSA MULT"
for layout in $layouts; do
  for batch in $batches; do
    # MMSA's configuration: Conv1d padding 0 ("valid"). On the unaligned shapes at batch 128
    # robustmsa recomputes layer activations in backward (model.recompute) to stay within 4 GB.
    recompute=false
    [[ $layout == unaligned && $batch -ge 128 ]] && recompute=true
    ours=$(limited "$build/bench_train" "$work/$layout.pkl" --model mult --batch "$batch" \
      --steps "$steps" --threads "$threads" --set model.conv_padding=valid \
      --set model.recompute=$recompute)
    ms=$(sed -n 's/.*(\([0-9.]*\) ms\/step.*/\1/p' <<<"$ours")
    rss=$(sed -n 's/peak resident memory: \([0-9]*\) MB/\1/p' <<<"$ours")
    if [[ -n $ms ]]; then
      epoch=$(awk -v ms="$ms" -v b="$batch" 'BEGIN { printf "%.1f", ms / 1000 * int((1284 + b - 1) / b) }')
      ours_s="$epoch s/epoch ($ms ms/step), peak RSS $rss MB"
    else
      ours_s=$(tail -1 <<<"$ours")
    fi
    theirs=$(limited "$python" bench/mmsa_mult_bench.py "$work/$layout.pkl" --batch "$batch" \
      --steps "$steps" --threads "$threads")
    theirs_s=$(sed -n 's/.*ms\/step, \([0-9.]* s\/epoch\).*peak RSS \([0-9]* MB\).*/\1, peak RSS \2/p' <<<"$theirs")
    tms=$(sed -n 's/.* \([0-9.]*\) ms\/step.*/\1/p' <<<"$theirs")
    [[ -n $theirs_s ]] && theirs_s="$theirs_s ($tms ms/step)" || theirs_s=$(tail -1 <<<"$theirs")
    speedup=""
    if [[ -n $ms && -n $tms ]]; then
      speedup=$(awk -v a="$tms" -v b="$ms" 'BEGIN { printf "  => robustmsa %.1fx faster", a / b }')
    fi
    printf "%-10s %5s | %-44s | %s%s\n" "$layout" "$batch" "$ours_s" "$theirs_s" "$speedup"
  done
done
