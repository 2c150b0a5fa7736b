#!/usr/bin/env bash
# The main job: both synthetic MOSI-sized families (docs/synthetic.md) — the linear-Gaussian one,
# where a missing modality only removes evidence, and the interaction one, where a missing modality
# shifts what the present ones mean — with UMDF beside its ablation `distill=false`, the
# frozen-teacher baseline `teacher_student`, SEEDS seeds each (default 3), the `paper` suite on the
# test split, each family's table beside its exact oracle, ending with the paired comparisons of
# every variant against UMDF. (MulT, at about 4 min a run here, would triple the time; the README
# gives its interaction-family row from the distillation study, scripts/distill_study.sh.)
#
# Usage: scripts/demo.sh            (SEEDS=5 scripts/demo.sh for more seeds, about 5/3 the time)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh build
bin=./build/robustmsa
seeds=${SEEDS:-3}
mkdir -p runs
linear=runs/synth_mosi.pkl
interaction=runs/synth_mosi_int.pkl
[[ -f $linear ]] || $bin synth --like mosi --seed 7 $linear
[[ -f $interaction ]] ||
  $bin synth --like mosi --kind interaction --seed 7 --set seq_len=20,20,20 $interaction
# Six cells (family x variant), two single-threaded workers (configs/demo.json sets
# train.threads = 1) taking them from one queue; passive OpenMP waiting
# keeps them from spinning on each other's core. Each cell writes only its own
# runs/demo/<family>/<variant>/seed_*, and a finished cell is read back, not retrained.
export OMP_WAIT_POLICY=passive
cells=()
for variant in umdf umdf:distill=false teacher_student; do
  for family in linear interaction; do cells+=("$family $variant"); done
done
run_cell() {
  local family=$1 variant=$2 data
  [[ $family == linear ]] && data=$linear || data=$interaction
  local log="runs/demo/$family.${variant//[:=]/_}.log"
  if ! $bin compare --data "$data" --config configs/demo.json --models "$variant" \
    --seeds "$seeds" --suite paper --out "runs/demo/$family" >"$log" 2>&1; then
    echo "demo: $family $variant failed; see $log" >&2
    tail -n 5 "$log" >&2
    return 1
  fi
}
export -f run_cell
export bin seeds linear interaction
mkdir -p runs/demo/linear runs/demo/interaction
printf '%s\n' "${cells[@]}" | xargs -P 2 -L 1 bash -c 'run_cell $0 $1'
for family in linear interaction; do
  echo
  echo "=== the $family family ($([[ $family == linear ]] && echo $linear || echo $interaction))"
  $bin report "runs/demo/$family" --reference umdf --discussion "docs/demo-discussion-$family.md"
done
