#!/usr/bin/env bash
# The distillation study of docs/umdf.md ("Making the distillation work"). Screening and
# confirmation use the VALIDATION split only: every variant is trained on a development copy of the
# interaction family whose test split is its validation split (`synth --set test_split=valid`), so
# their reports are validation numbers; the `test` stage then looks at the benchmark file's test
# split once, for the choice made on validation. Two single-threaded
# workers share the variants; `compare` skips finished cells, so an interrupted study resumes.
#
# Usage: scripts/distill_study.sh [screen|confirm|test|property|linear] [OUT_DIR] [VARIANT ...]
#   screen    every switch of the study, seeds 1111-1113 (OUT_DIR/screen)
#   confirm   the candidates given after OUT_DIR and their references, seeds 1111-1120
#             (OUT_DIR/confirm)
#   test      the TEST split, once: the chosen UMDF (first VARIANT) and distill=false at seeds
#             1111-1120, the other VARIANTs at 1111-1115 (OUT_DIR/test)
#   property  complete-view-only training on both families, TEST split, seeds 1111-1115
#             (OUT_DIR/property_{interaction,linear}; docs/synthetic.md, "What the family is for")
#   linear    the landed study of the linear family (docs/umdf.md, "Why: there is no robustness
#             gap"): 20 seeds, noisy labels, 15 epochs, complete view only (OUT_DIR/linear_*)
# Summaries: scripts/study_table.py (paired against the first directory given) and
# scripts/oracle_fraction.py (fractions of the oracle).
set -euo pipefail
cd "$(dirname "$0")/.."
stage=${1:-screen}
out=${2:-runs/distill_study}
bash scripts/setup.sh build
bin=./build/robustmsa
mkdir -p "$out" runs
export OMP_WAIT_POLICY=passive  # two single-threaded jobs must not spin on each other's core
int=runs/synth_mosi_int.pkl
int_valid=runs/synth_mosi_int.valid.pkl
[[ -f $int ]] || $bin synth --like mosi --kind interaction --seed 7 --set seq_len=20,20,20 $int
[[ -f $int_valid ]] ||
  $bin synth --like mosi --kind interaction --seed 7 --set seq_len=20,20,20 \
    --set test_split=valid $int_valid
[[ -f runs/synth_mosi.pkl ]] || $bin synth --like mosi --seed 7 runs/synth_mosi.pkl
common=(--config configs/demo.json --suite paper --threads 1)

# Runs the variants (arguments) in two workers on DATA with SEEDS into DIR (set by the caller).
two_workers() {
  local -a left=() right=()
  local i=0
  for v in "$@"; do
    if ((i % 2 == 0)); then left+=("$v"); else right+=("$v"); fi
    i=$((i + 1))
  done
  for half in left right; do
    local -n list=$half
    {
      for v in "${list[@]}"; do
        nice -n 15 $bin compare --data "$data" "${common[@]}" --models "$v" --seeds "$seeds" \
          "${extra[@]}" --out "$dir"
      done
    } >"$dir.$half.log" 2>&1 &
  done
  wait
}

extra=()
case $stage in
  screen)
    data=$int_valid seeds=3 dir=$out/screen
    mkdir -p "$dir"
    # The last two variants were not run in the landed study (docs/umdf.md, "Not run").
    two_workers umdf:distill=false umdf teacher_student teacher_student:alpha=0,beta=0 \
      umdf:warmup_epochs=2 umdf:alpha=1,beta=0.1,warmup_epochs=2 \
      umdf:teacher=ema umdf:teacher=ema,alpha=1,beta=0.1 umdf:teacher=eval,alpha=1,beta=0.1 \
      umdf:stop_grad_complete=true,alpha=1,beta=0.1 \
      umdf:teacher=ema,alpha=1,beta=0.1,warmup_epochs=2 \
      umdf:teacher=ema,alpha=1,beta=0.1,curriculum_epochs=3 \
      umdf:teacher=ema,alpha=1,beta=0.1,scale_to_task=true \
      umdf:teacher=ema,alpha=1,pred_loss_kind=l1,feature_loss=false \
      umdf:teacher=ema,alpha=1,beta=0.1,per_modality=false
    ;;
  confirm)
    data=$int_valid seeds=10 dir=$out/confirm
    mkdir -p "$dir"
    two_workers umdf:distill=false umdf "${@:3}"
    ;;
  test)
    # The study's one look at the interaction family's TEST split: the UMDF chosen on validation
    # (argument 3, e.g. `umdf` once its defaults carry the choice) and distill=false at 10 seeds,
    # then the other registered models (arguments 4...) at 5 seeds each.
    data=$int seeds=10 dir=$out/test
    mkdir -p "$dir"
    two_workers umdf:distill=false "$3"
    seeds=5
    (($# > 3)) && two_workers "${@:4}"
    ;;
  property)
    extra=(--set missing.drop_modalities=false --set missing.max_frame_rate=0)
    data=$int seeds=5 dir=$out/property_interaction
    mkdir -p "$dir"
    nice -n 15 $bin compare --data "$data" "${common[@]}" --models umdf:distill=false \
      --seeds 5 "${extra[@]}" --out "$dir" >"$dir.log" 2>&1 &
    data=runs/synth_mosi.pkl dir=$out/property_linear
    mkdir -p "$dir"
    nice -n 15 $bin compare --data "$data" "${common[@]}" --models umdf:distill=false \
      --seeds 5 "${extra[@]}" --out "$dir" >"$dir.log" 2>&1 &
    wait
    python3 scripts/oracle_fraction.py $int "$out/property_interaction/umdf_distill-false"
    python3 scripts/oracle_fraction.py runs/synth_mosi.pkl "$out/property_linear/umdf_distill-false"
    ;;
  linear)
    [[ -f "$out/synth_mosi_noisy.pkl" ]] ||
      $bin synth --like mosi --seed 7 --set label_noise_sd=1.0 "$out/synth_mosi_noisy.pkl"
    both=umdf,umdf:distill=false
    {
      $bin compare --data runs/synth_mosi.pkl "${common[@]}" --models $both --seeds 20 \
        --out "$out/linear_seeds20"
    } >"$out/linear_seeds20.log" 2>&1 &
    {
      $bin compare --data "$out/synth_mosi_noisy.pkl" "${common[@]}" --models $both --seeds 5 \
        --out "$out/linear_noisy_labels"
      $bin compare --data runs/synth_mosi.pkl "${common[@]}" --models $both --seeds 5 \
        --set train.epochs=15 --out "$out/linear_epochs15"
    } >"$out/linear_others.log" 2>&1 &
    wait
    ;;
  *)
    echo "usage: $0 [screen|confirm|test|property|linear] [OUT_DIR] [VARIANT ...]" >&2
    exit 2
    ;;
esac
if [[ $stage == screen || $stage == confirm || $stage == test ]]; then
  dirs=()
  for d in "$dir"/*/; do [[ $d == */report/ ]] || dirs+=("${d%/}"); done
  # The reference (distill=false) first: every row is paired against it.
  python3 scripts/study_table.py "$dir/umdf_distill-false" "${dirs[@]}"
fi
