#!/bin/bash
# Real utterance-level CMU-MOSI (docs/real-mosi.md): every registered model x 10 seeds
# (1111-1120) on one of the released feature sets, per-utterance form, configs/mosi_utterance.json,
# the `paper` suite on the test split and the `gcnet` modality-drop curve of the same checkpoints,
# then one report of each suite with UMDF as the reference of the paired comparisons.
#
# Two single-threaded workers (one per core) take cells (one model, one seed) from one queue.
# The queue holds the cheap models' 10 seeds first, then the slow ones (mult, misa, tfr_net, tfn)
# seed by seed, so a run stopped early leaves every slow model with about as many seeds as the
# others. Rerunning skips finished cells and resumes interrupted ones (compare's resume).
#
# Usage: bash scripts/real_mosi.sh [bclstm|hffn]      (default bclstm)
#   CONTEXT                data.context (default 0, the per-utterance form, into runs/real_mosi/SET);
#                          -1 runs the context form with the whole video as each utterance's
#                          sequence into runs/real_mosi/SET_context_video, N >= 1 a window of N
#                          utterances each side into runs/real_mosi/SET_context_N
#   ROBUSTMSA_SHARED_DATA  folder holding mosi-utterance/ (default ../shared/data)
#   ROBUSTMSA_BIN          the robustmsa binary (default build/robustmsa)
#   SEEDS                  number of seeds from 1111 (default 10)
#   DEADLINE               optional wall-clock time (anything `date -d` reads, e.g. 16:00): a worker
#                          starts no cell whose usual duration (below) would end after it; the
#                          report then covers the finished cells and marks the missing seeds
set -euo pipefail
cd "$(dirname "$0")/.."
set_name=${1:-bclstm}
shared=${ROBUSTMSA_SHARED_DATA:-../shared/data}/mosi-utterance
case "$set_name" in
  bclstm) data=$shared/bclstm ;;
  hffn) data=$shared/unimodal_mosi_2way.pickle ;;
  *) echo "usage: bash scripts/real_mosi.sh [bclstm|hffn]" >&2; exit 2 ;;
esac
bin=${ROBUSTMSA_BIN:-build/robustmsa}
context=${CONTEXT:-0}
out=runs/real_mosi/$set_name
if [[ $context == -1 ]]; then out+=_context_video; elif [[ $context != 0 ]]; then out+=_context_$context; fi
mkdir -p "$out"
common=(--data "$data" --set "data.labels=$shared/CMU_MOSI_Opinion_Labels.csd"
        --config configs/mosi_utterance.json --set "data.context=$context" --threads 1)
export OMP_WAIT_POLICY=passive
deadline=0
if [[ -n ${DEADLINE:-} ]]; then deadline=$(date -d "$DEADLINE" +%s); fi

# Minutes one cell (train + paper suite + gcnet suite) may take with one thread on this project's
# two shared cores: upper bounds of the cells of docs/real-mosi.md ("Time"; TFN took 19 min beside
# other jobs at load 7, 4-7 min at load 2-4); DEADLINE uses them.
declare -A minutes=([umdf]=2 [umdf:distill=false]=2 [teacher_student]=1 [lf_dnn]=1 [self_mm]=1
                    [mctn]=1 [mmin]=2 [mult]=4 [misa]=6 [tfr_net]=10 [tfn]=20)
if [[ $context == -1 ]]; then
  # The context form with whole videos (63 frames): guesses scaled from UMDF's 50 samples/s there
  # against about 480 at data.context = 3, one thread (never run to the end).
  minutes=([umdf]=5 [umdf:distill=false]=5 [teacher_student]=3 [lf_dnn]=2 [self_mm]=4 [mctn]=4
           [mmin]=5 [mult]=8 [misa]=12 [tfr_net]=15 [tfn]=25)
fi
estimates=""
for m in "${!minutes[@]}"; do estimates+="$m ${minutes[$m]};"; done
cheap=(umdf umdf:distill=false teacher_student lf_dnn self_mm mctn mmin mult)
slow=(misa tfr_net tfn)
seeds=()
for ((i = 0; i < ${SEEDS:-10}; i++)); do seeds+=($((1111 + i))); done
queue=$out.queue
{
  for m in "${cheap[@]}"; do for s in "${seeds[@]}"; do echo "$m $s"; done; done
  for s in "${seeds[@]}"; do for m in "${slow[@]}"; do echo "$m $s"; done; done
} >"$queue"

slug() { echo "${1//:/_}" | tr '=' '-'; }  # compare's directory name of a variant
worker() {
  local log=$out.worker$1.log cell model seed dir
  while :; do
    # Take the first cell that fits before DEADLINE (all of them without one).
    cell=$(flock "$queue.lock" python3 - "$queue" "$deadline" "$estimates" <<'PY'
import sys, time
path, deadline = sys.argv[1], int(sys.argv[2])
minutes = dict(e.rsplit(" ", 1) for e in sys.argv[3].split(";") if e)
cells = [c for c in open(path).read().split("\n") if c]
for i, c in enumerate(cells):
    if deadline == 0 or time.time() + 60 * int(minutes[c.split()[0]]) <= deadline:
        print(c)
        del cells[i]
        break
open(path, "w").write("".join(c + "\n" for c in cells))
PY
    )
    [[ -z $cell ]] && return 0
    read -r model seed <<<"$cell"
    dir=$out/$(slug "$model")/seed_$seed
    echo "$(date -u +%T) start $model $seed" >>"$log"
    nice -n 19 "$bin" compare "${common[@]}" --models "$model" --seeds "$seed" --out "$out" \
      >>"$log" 2>&1
    if [[ ! -f $dir/results_gcnet.json ]]; then
      # The modality-drop rate curve (GCNet's MR = 0.0 ... 0.7) of the same checkpoint.
      nice -n 19 "$bin" eval --run "$dir" --suite gcnet --threads 1 >>"$log" 2>&1
    fi
    echo "$(date -u +%T) done $model $seed" >>"$log"
  done
}
pids=()
for i in 0 1; do
  worker "$i" &
  pids+=($!)
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=$?; done
if ((status != 0)); then
  echo "real_mosi: a worker failed; see $out.worker*.log" >&2
  tail -n 5 "$out".worker*.log >&2
  exit "$status"
fi
# One report per suite over every finished cell (report_paper/, report_gcnet/), UMDF first, so the
# paired comparisons are umdf:distill=false, teacher_student and every other model against UMDF
# over the seeds both have; a model with fewer seeds is marked so in the tables.
"$bin" report "$out" --reference umdf
