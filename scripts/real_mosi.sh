#!/bin/bash
# Real utterance-level CMU-MOSI (docs/real-mosi.md): every registered model x 10 seeds
# (1111-1120) on one of the released feature sets, per-utterance form, configs/mosi_utterance.json,
# the `paper` suite on the test split, then the `gcnet` modality-drop curve on the same checkpoints.
# Two single-threaded processes side by side (one per core); rerunning skips finished cells.
#
# Usage: bash scripts/real_mosi.sh [bclstm|hffn]      (default bclstm)
#   ROBUSTMSA_SHARED_DATA  folder holding mosi-utterance/ (default ../shared/data)
#   ROBUSTMSA_BIN          the robustmsa binary (default build/robustmsa)
#   SEEDS                  seed count or list (default 10)
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
out=runs/real_mosi/$set_name
mkdir -p "$out"
common=(--data "$data" --set "data.labels=$shared/CMU_MOSI_Opinion_Labels.csd"
        --config configs/mosi_utterance.json --seeds "${SEEDS:-10}" --threads 1)
export OMP_WAIT_POLICY=passive
# The two halves take about the same time on the bc-LSTM features (TFN's outer product of the
# 100/73/100-d inputs dominates the second).
halves=(umdf,umdf:distill=false,teacher_student,lf_dnn,mult,self_mm,mctn,mmin tfn,misa,tfr_net)
pids=()
for i in 0 1; do
  nice -n 15 "$bin" compare "${common[@]}" --models "${halves[$i]}" --out "$out" \
    >"$out.half$i.log" 2>&1 &
  pids+=($!)
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=$?; done
if ((status != 0)); then
  echo "real_mosi: a half failed; see $out.half*.log" >&2
  tail -n 5 "$out".half*.log >&2
  exit "$status"
fi
# Every cell is finished: this reads them and writes the report with umdf first, so the paired
# comparisons are umdf:distill=false and teacher_student (and every other model) against UMDF.
"$bin" compare "${common[@]}" --models umdf,umdf:distill=false,teacher_student,lf_dnn,mult,tfn,misa,self_mm,mctn,mmin,tfr_net --out "$out"
# The modality-drop rate curve (GCNet's MR = 0.0 ... 0.7) of the same checkpoints.
nice -n 15 "$bin" eval --run "$out" --suite gcnet --threads 1 >"$out.gcnet.log" 2>&1
tail -n 3 "$out.gcnet.log"
